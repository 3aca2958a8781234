"""Run every enabled rule on its interval over ingest-time windows: no gap, no duplicate.

Rules due for the same window are evaluated together in one pass over the events
(`evaluate_many`); everything else stays per rule. Per rule and window: evaluate (outside any
transaction), then in ONE transaction write the alerts (create-only), the run-log row and the new
watermark, the last with a compare-and-set on the old one. A failed run therefore never advances
the watermark, and a window evaluated twice (retry, second replica) adds nothing. A lease in
`rule_states` keeps two schedulers off the same rule; a rule that keeps failing is paused and
reported while the others go on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, Engine, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from soc.alerts.model import alert_row
from soc.alerts.writer import write_alerts
from soc.db.detection import DetectionGap, RuleRun, RuleState
from soc.db.session import session_scope
from soc.detect import windows
from soc.detect.evaluate import evaluate, evaluate_many
from soc.detect.model import Finding, Rule
from soc.notify.grouping import on_new_alerts
from soc.store.base import EventStore, Window

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class RunReport:
    rule_id: str
    windows: int = 0
    alerts: int = 0
    skipped: str | None = None
    """Why nothing ran: lease held elsewhere, paused, nothing due."""
    error: str | None = None


class Detector:
    def __init__(
        self,
        store: EventStore,
        db: Engine,
        rules: Sequence[Rule],
        *,
        clock: Clock | None = None,
        timing: windows.Timing | None = None,
        runner: str | None = None,
        lease: timedelta = timedelta(minutes=10),
        max_failures: int = 3,
        rule_timeout_s: float = 300,
    ) -> None:
        self.store, self.db = store, db
        self.rules = {r.id: r for r in rules}
        self.clock = clock or SystemClock()
        self.timing = timing or windows.Timing()
        self.runner = runner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease, self.max_failures, self.rule_timeout_s = lease, max_failures, rule_timeout_s
        self.on_alerts: list[Callable[[], None]] = []
        """Called after a window's new alerts are committed (the notifier wakes, see `soc serve`)."""
        self._sync_states()

    def _sync_states(self) -> None:
        with session_scope(self.db) as session:
            known = set(session.scalars(select(RuleState.rule_id)))
            for rule_id in self.rules.keys() - known:
                session.add(RuleState(rule_id=rule_id, updated_at=self.clock.now()))

    def run_all(self) -> list[RunReport]:
        """One cycle over every rule (what the scheduled jobs do for the rules of their interval)."""
        return self.run_rules(sorted(self.rules))

    def run_rule(self, rule_id: str) -> RunReport:
        return self.run_rules([rule_id])[0]

    def run_rules(self, rule_ids: Sequence[str]) -> list[RunReport]:
        """Run the due windows of these rules; rules due for the same window are evaluated together
        in one pass (`evaluate_many`). Leases, the compare-and-set watermark, gaps and failures stay
        per rule: a batch only shares the reading of the events."""
        reports = {rule_id: RunReport(rule_id) for rule_id in rule_ids}
        now = self.clock.now()
        held = [rule_id for rule_id in rule_ids if self._acquire(rule_id, now)]
        for rule_id in rule_ids:
            if rule_id not in held:
                reports[
                    rule_id
                ].skipped = "lease held by another scheduler, or the rule is paused or disabled"
        try:
            self._run_windows([self.rules[r] for r in held], reports)
        finally:
            for rule_id in held:
                self._release(rule_id)
        return [reports[rule_id] for rule_id in rule_ids]

    def _run_windows(self, rules: list[Rule], reports: dict[str, RunReport]) -> None:
        now = self.clock.now()
        pending: dict[str, _Pending] = {}
        for rule in rules:
            todo = self._plan(rule, now, reports[rule.id])
            if todo is not None and todo.windows:
                pending[rule.id] = todo
        while pending:
            # Oldest window first; every rule due for exactly that window goes in one batch.
            start, end = min(p.windows[0] for p in pending.values())
            batch = [self.rules[r] for r, p in pending.items() if p.windows[0] == (start, end)]
            began = time.monotonic()
            results = self._evaluate_batch(batch, start, end)
            for rule in batch:
                todo = pending[rule.id]
                report = reports[rule.id]
                outcome = results[rule.id]
                if isinstance(outcome, BaseException):
                    report.error = f"{type(outcome).__name__}: {outcome}"
                    self._record_failure(rule, start, end, now, report.error, began)
                    del pending[rule.id]
                    continue
                backfill = start < todo.backfill_before
                rows = [alert_row(f, (start, end), backfill=backfill, now=now) for f in outcome]
                run = RuleRun(
                    rule_id=rule.id, rule_version=rule.version, window_start=start, window_end=end,
                    started_at=now, duration_ms=int((time.monotonic() - began) * 1000), findings=len(outcome),
                    lag_seconds=int((now - end).total_seconds()), backfill=backfill, runner=self.runner,
                )  # fmt: skip
                created = self._commit(rule, todo.watermark, end, rows, run=run)
                if created is None:
                    report.skipped = "watermark moved by another scheduler"
                    del pending[rule.id]
                    continue
                report.windows += 1
                report.alerts += created
                if created:
                    self._announce()
                todo.watermark = end
                todo.windows.pop(0)
                if not todo.windows:
                    del pending[rule.id]

    def _announce(self) -> None:
        for listener in self.on_alerts:
            try:
                listener()
            except Exception:  # a listener is a courtesy; the alerts are committed already
                log.exception("alert listener failed")

    def _plan(self, rule: Rule, now: datetime, report: RunReport) -> _Pending | None:
        """The rule's due windows from its committed watermark; records a gap beyond the catch-up
        limit first. None when another scheduler moved the watermark meanwhile."""
        with session_scope(self.db) as session:
            watermark = session.get(RuleState, rule.id).watermark_at  # type: ignore[union-attr]
        timing = windows.Timing(**{**self.timing.__dict__, "interval": rule.interval})
        plan = windows.plan(watermark, now, timing)
        if plan.gap is not None:
            reason = f"not caught up: older than the catch-up limit of {timing.catch_up} (outage?)"
            if self._commit(rule, watermark, plan.gap[1], [], run=None, gap=(plan.gap, reason)) is None:
                return None
            watermark = plan.gap[1]
        if not plan.windows:
            report.skipped = "nothing due yet"
        return _Pending(watermark, list(plan.windows), plan.backfill_before)

    def _evaluate_batch(
        self, batch: list[Rule], start: datetime, end: datetime
    ) -> dict[str, list[Finding] | BaseException]:
        """Findings (or the error) per rule. One pass for the whole batch when it finishes within
        the timeout; otherwise the rules it did not answer run one by one, each with its own
        timeout, so a rule that raises or hangs only fails itself."""
        if len(batch) == 1:
            return {batch[0].id: self._outcome(batch[0], start, end)}
        done: dict[str, list[Finding] | BaseException] = {}
        lock = threading.Lock()
        finished = threading.Event()

        def work() -> None:
            try:
                for rule, found in evaluate_many(self.store, batch, Window(start, end), rules=self.rules):
                    with lock:
                        if not finished.is_set():
                            done[rule.id] = found
            except BaseException as exc:  # the rules not answered yet run one by one below
                log.info("batch pass stopped, its remaining rules run one by one: error=%s", exc)
            finally:
                finished.set()

        threading.Thread(target=work, name="rule-batch", daemon=True).start()
        finished.wait(timeout=self.rule_timeout_s)
        with lock:
            finished.set()
            answered = dict(done)
        for rule in batch:
            if rule.id not in answered:
                answered[rule.id] = self._outcome(rule, start, end)
        return answered

    def _outcome(self, rule: Rule, start: datetime, end: datetime) -> list[Finding] | BaseException:
        try:
            return self._evaluate(rule, start, end)
        except Exception as exc:  # a rule's failure must never stop the scheduler
            return exc

    def _evaluate(self, rule: Rule, start: datetime, end: datetime) -> list[Finding]:
        """Evaluate with a timeout; a rule that overruns is reported, the others go on."""
        future: Future[list[Finding]] = Future()

        def work() -> None:
            try:
                future.set_result(list(evaluate(self.store, rule, Window(start, end), rules=self.rules)))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=work, name=f"rule-{rule.id}", daemon=True).start()
        try:
            return future.result(timeout=self.rule_timeout_s)
        except TimeoutError:
            raise TimeoutError(f"rule ran longer than {self.rule_timeout_s:g} s") from None

    def _commit(
        self,
        rule: Rule,
        old: datetime | None,
        new: datetime,
        rows: list[dict[str, object]],
        *,
        run: RuleRun | None,
        gap: tuple[tuple[datetime, datetime], str] | None = None,
    ) -> int | None:
        """Alerts + run log + watermark, all or nothing. None when the watermark moved meanwhile."""
        with session_scope(self.db) as session:
            moved = session.execute(
                update(RuleState)
                .where(RuleState.rule_id == rule.id, _is(RuleState.watermark_at, old))
                .values(watermark_at=new, consecutive_failures=0, last_run_at=self.clock.now())
            ).rowcount  # type: ignore[attr-defined]
            if moved != 1:
                session.rollback()
                return None
            created = write_alerts(session, rows, self.clock.now())
            # Same transaction: an alert is never stored without being counted into its group.
            on_new_alerts(session, [str(r["id"]) for r in rows], self.clock.now())
            if run is not None:
                run.alerts_created = created
                session.add(run)
            if gap is not None:
                (start, end), reason = gap
                session.add(DetectionGap(rule_id=rule.id, start_at=start, end_at=end, reason=reason))
            return created

    def _record_failure(
        self, rule: Rule, start: datetime, end: datetime, now: datetime, error: str, began: float
    ) -> None:
        log.warning(
            "rule failed; its watermark stays: rule=%s window=%s..%s error=%s", rule.id, start, end, error
        )
        with session_scope(self.db) as session:
            session.add(
                RuleRun(
                    rule_id=rule.id, rule_version=rule.version, window_start=start, window_end=end,
                    started_at=now, duration_ms=int((time.monotonic() - began) * 1000),
                    lag_seconds=int((now - end).total_seconds()), error=error, runner=self.runner,
                )
            )  # fmt: skip
            state = session.get(RuleState, rule.id)
            assert state is not None
            state.consecutive_failures += 1
            if state.consecutive_failures >= self.max_failures:
                state.paused_reason = f"paused after {state.consecutive_failures} failures in a row: {error}"
                log.error("rule paused: rule=%s reason=%s", rule.id, state.paused_reason)

    def _acquire(self, rule_id: str, now: datetime) -> bool:
        with session_scope(self.db) as session:
            got = session.execute(
                update(RuleState)
                .where(
                    RuleState.rule_id == rule_id,
                    RuleState.enabled.is_(True),
                    RuleState.paused_reason.is_(None),
                    or_(
                        RuleState.lease_owner.is_(None),
                        RuleState.lease_owner == self.runner,
                        RuleState.lease_until < now,
                    ),
                )
                .values(lease_owner=self.runner, lease_until=now + self.lease)
            ).rowcount  # type: ignore[attr-defined]
            return bool(got == 1)

    def _release(self, rule_id: str) -> None:
        with session_scope(self.db) as session:
            session.execute(
                update(RuleState)
                .where(RuleState.rule_id == rule_id, RuleState.lease_owner == self.runner)
                .values(lease_owner=None, lease_until=None)
            )

    def backfill(self, gap_id: int) -> int:
        """Evaluate a recorded gap (outside the watermark); returns alerts created."""
        with session_scope(self.db) as session:
            gap = session.get(DetectionGap, gap_id)
            if gap is None:
                raise KeyError(f"no detection gap {gap_id}")
            rule, span = self.rules[gap.rule_id], (gap.start_at, gap.end_at)
        created = 0
        now = self.clock.now()
        for start, end in windows.chunks(*span, self.timing.max_window):
            rows = [
                alert_row(f, (start, end), backfill=True, now=now) for f in self._evaluate(rule, start, end)
            ]
            with session_scope(self.db) as session:
                created += write_alerts(session, rows, now)
                on_new_alerts(session, [str(r["id"]) for r in rows], now)
        with session_scope(self.db) as session:
            session.execute(update(DetectionGap).where(DetectionGap.id == gap_id).values(backfilled_at=now))
        return created

    def schedule(self) -> BackgroundJobs:
        """Start APScheduler: the rules of each interval on it, never two runs of a rule at once."""
        return BackgroundJobs(self)


@dataclass
class _Pending:
    """A rule's windows still to run in this pass, and the watermark its next commit expects."""

    watermark: datetime | None
    windows: list[tuple[datetime, datetime]]
    backfill_before: datetime


def _is(column: InstrumentedAttribute[datetime | None], value: datetime | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


class BackgroundJobs:
    def __init__(self, detector: Detector) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

        self.scheduler = BackgroundScheduler(timezone=UTC)
        by_interval: dict[timedelta, list[str]] = {}
        for rule in detector.rules.values():
            by_interval.setdefault(rule.interval, []).append(rule.id)
        # One job per interval runs its rules as one batch; a rule belongs to one job, and
        # max_instances=1 keeps two runs of it from overlapping.
        for interval, rule_ids in sorted(by_interval.items()):
            self.scheduler.add_job(
                _guarded(detector.run_rules, sorted(rule_ids)),
                "interval",
                seconds=interval.total_seconds(),
                id=f"rules-every-{int(interval.total_seconds())}s",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)


def _guarded(run: Callable[[Sequence[str]], list[RunReport]], rule_ids: list[str]) -> Callable[[], None]:
    def job() -> None:
        try:
            for report in run(rule_ids):
                if report.error:
                    log.warning("rule run failed: rule=%s error=%s", report.rule_id, report.error)
        except Exception:
            log.exception("rule job crashed; the scheduler goes on: rules=%s", ",".join(rule_ids))

    return job
