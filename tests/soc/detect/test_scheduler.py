"""Scheduling properties (domain/detection.md), replayed with an injected clock on every backend."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from soc.db import migrate
from soc.db.detection import Alert, DetectionGap, RuleRun, RuleState, Suppression
from soc.db.session import make_engine, session_scope
from soc.detect import scheduler
from soc.detect.evaluate import evaluate_many
from soc.detect.model import Rule
from soc.detect.scheduler import Detector
from soc.detect.windows import Timing
from soc.store.base import EventStore
from soc.store.query import Cidr, Query, Term

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
TIMING = Timing(interval=timedelta(minutes=5), settle=timedelta(seconds=10), max_windows_per_run=100)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def rule(rule_id: str = "ssh-failed", query: Query | None = None) -> Rule:
    return Rule(
        id=rule_id,
        title=f"Rule {rule_id}",
        level="high",
        tags=("attack.t1110",),
        version="v1",
        path=Path(f"rules/{rule_id}.yml"),
        source="",
        query=query or Term("event.outcome", "failure"),
        datasets=None,
        correlation=None,
        interval=timedelta(minutes=5),
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def put(store: EventStore, n: int, at: datetime, *, start: int = 0, **fields: Any) -> None:
    docs = [
        {
            "@timestamp": "2026-11-27T01:00:00Z",
            "message": f"Failed password {i}",
            "event": {"outcome": "failure", "dataset": "system.auth"},
            "source": {"ip": "203.0.113.9"},
            "host": {"name": "web01"},
            "log": {"offset": i},
            **fields,
        }
        for i in range(start, start + n)
    ]
    store.write(docs, agency="so-a", now=at)
    store.refresh()


def alerts(db: Engine) -> list[Alert]:
    with session_scope(db) as s:
        return list(s.scalars(select(Alert).order_by(Alert.first_at, Alert.id)))


def runs(db: Engine, rule_id: str = "ssh-failed") -> list[RuleRun]:
    with session_scope(db) as s:
        q = select(RuleRun).where(RuleRun.rule_id == rule_id, RuleRun.error.is_(None))
        return list(s.scalars(q.order_by(RuleRun.window_start)))


def drain(detector: Detector, rule_id: str = "ssh-failed") -> None:
    for _ in range(50):
        report = detector.run_rule(rule_id)
        if report.skipped == "nothing due yet":
            return
    raise AssertionError("the detector never caught up")


def test_it_alerts_on_events_that_arrive_an_hour_late(store: EventStore, db: Engine) -> None:
    clock = Clock(T0)
    detector = Detector(store, db, [rule()], clock=clock, timing=TIMING)
    detector.run_rule("ssh-failed")
    put(store, 3, T0 + timedelta(minutes=1))  # @timestamp is two hours before ingest
    clock.at = T0 + timedelta(minutes=6)
    report = detector.run_rule("ssh-failed")
    assert (report.windows, report.alerts, report.error) == (1, 3, None)
    stored = alerts(db)
    assert {a.agency for a in stored} == {"so-a"}
    assert {a.host for a in stored} == {"web01"}
    assert sorted(a.events[0]["original"] for a in stored) == [f"Failed password {i}" for i in range(3)]


def test_it_covers_an_outage_exactly_once(store: EventStore, db: Engine) -> None:
    clock = Clock(T0)
    detector = Detector(store, db, [rule()], clock=clock, timing=TIMING)
    detector.run_rule("ssh-failed")
    for minute in range(30):  # the service is down while these arrive
        put(store, 2, T0 + timedelta(minutes=minute, seconds=7), start=minute * 2)
    clock.at = T0 + timedelta(minutes=35)
    drain(detector)
    done = runs(db)
    assert all(a.window_end == b.window_start for a, b in itertools.pairwise(done))
    assert len(alerts(db)) == 60
    assert any(r.backfill for r in done)
    clock.at += timedelta(minutes=5)
    drain(detector)
    assert len(alerts(db)) == 60


def test_it_never_duplicates_with_two_schedulers_on_one_database(store: EventStore, db: Engine) -> None:
    clock = Clock(T0)
    one = Detector(store, db, [rule()], clock=clock, timing=TIMING, runner="one")
    two = Detector(store, db, [rule()], clock=clock, timing=TIMING, runner="two")
    one.run_rule("ssh-failed")
    for step in range(1, 7):
        put(store, 5, T0 + timedelta(minutes=5 * step - 2), start=step * 5)
        clock.at = T0 + timedelta(minutes=5 * step)
        threads = [threading.Thread(target=d.run_rule, args=("ssh-failed",)) for d in (one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    drain(one)
    assert len(alerts(db)) == 30
    done = runs(db)
    assert all(a.window_end == b.window_start for a, b in itertools.pairwise(done))


def test_it_keeps_going_when_a_rule_fails_and_pauses_that_rule(store: EventStore, db: Engine) -> None:
    clock = Clock(T0)
    bad = rule("broken", Cidr("user.name", "10.0.0.0/8"))  # refused by every backend
    detector = Detector(store, db, [rule(), bad], clock=clock, timing=TIMING, max_failures=3)
    detector.run_all()
    put(store, 2, T0 + timedelta(minutes=1))
    for step in range(1, 4):
        clock.at = T0 + timedelta(minutes=5 * step + 1)
        reports = {r.rule_id: r for r in detector.run_all()}
        assert reports["broken"].error is not None or reports["broken"].skipped
    assert len(alerts(db)) == 2
    with session_scope(db) as s:
        state = s.get(RuleState, "broken")
        assert state is not None
        assert state.paused_reason is not None
        assert "cidr needs an IP field" in state.paused_reason
        watermark = state.watermark_at
    clock.at += timedelta(minutes=5)
    assert detector.run_rule("broken").skipped is not None
    with session_scope(db) as s:
        assert s.get(RuleState, "broken").watermark_at == watermark  # type: ignore[union-attr]


def test_it_alerts_on_every_match_past_ten_thousand(store: EventStore, db: Engine) -> None:
    clock = Clock(T0)
    detector = Detector(store, db, [rule()], clock=clock, timing=TIMING)
    detector.run_rule("ssh-failed")
    put(store, 10_500, T0 + timedelta(minutes=2))
    clock.at = T0 + timedelta(minutes=6)
    assert detector.run_rule("ssh-failed").alerts == 10_500
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 10_500


def test_it_records_a_gap_beyond_the_catch_up_limit_and_backfills_it(store: EventStore, db: Engine) -> None:
    clock = Clock(T0)
    detector = Detector(store, db, [rule()], clock=clock, timing=TIMING)
    detector.run_rule("ssh-failed")
    put(store, 4, T0 + timedelta(hours=1))
    clock.at = T0 + timedelta(days=2)
    drain(detector)
    with session_scope(db) as s:
        [gap] = list(s.scalars(select(DetectionGap)))
        gap_id = gap.id
        assert "catch-up" in gap.reason
    assert alerts(db) == []
    assert detector.backfill(gap_id) == 4
    assert all(a.backfill for a in alerts(db))
    assert detector.backfill(gap_id) == 0


def test_it_counts_suppressed_matches_instead_of_dropping_them(store: EventStore, db: Engine) -> None:
    clock = Clock(T0)
    with session_scope(db) as s:
        s.add(
            Suppression(
                rule_id="ssh-failed", match={"source.ip": "203.0.113.9"}, owner="analyst",
                reason="pentest by the city", expires_at=T0 + timedelta(days=1),
            )
        )  # fmt: skip
    detector = Detector(store, db, [rule()], clock=clock, timing=TIMING)
    detector.run_rule("ssh-failed")
    put(store, 3, T0 + timedelta(minutes=1))
    clock.at = T0 + timedelta(minutes=6)
    detector.run_rule("ssh-failed")
    detector.run_rule("ssh-failed")
    stored = alerts(db)
    assert [a.status for a in stored] == ["suppressed"] * 3
    with session_scope(db) as s:
        assert s.scalar(select(Suppression.hits)) == 3


def test_it_runs_each_rule_as_a_background_job(store: EventStore, db: Engine) -> None:
    put(store, 2, datetime.now(UTC) - timedelta(minutes=2))
    detector = Detector(store, db, [rule(), rule("other", Term("user.name", "nobody"))], timing=TIMING)
    jobs = detector.schedule()
    try:
        for _ in range(200):
            with session_scope(db) as s:
                done = {r.rule_id for r in s.scalars(select(RuleRun))}
            if done == {"ssh-failed", "other"}:
                break
            time.sleep(0.05)
    finally:
        jobs.stop()
    assert done == {"ssh-failed", "other"}
    assert len(alerts(db)) == 2


def test_it_evaluates_the_rules_due_for_one_window_in_one_pass(
    store: EventStore, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(T0)
    other = rule("root-user", Term("user.name", "root"))
    detector = Detector(store, db, [rule(), other], clock=clock, timing=TIMING)
    detector.run_all()
    put(store, 3, T0 + timedelta(minutes=1), user={"name": "root"})
    batches: list[list[str]] = []

    def counting(store: EventStore, selected: list[Rule], *args: Any, **kwargs: Any) -> Any:
        batches.append([r.id for r in selected])
        return evaluate_many(store, selected, *args, **kwargs)

    monkeypatch.setattr(scheduler, "evaluate_many", counting)
    clock.at = T0 + timedelta(minutes=6)
    reports = detector.run_all()
    assert batches == [["root-user", "ssh-failed"]]
    assert [(r.windows, r.alerts) for r in reports] == [(1, 3), (1, 3)]
    assert runs(db)[-1].window_end == T0 + timedelta(minutes=5, seconds=50)


def test_it_runs_a_batch_that_overruns_rule_by_rule(
    store: EventStore, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(T0)
    detector = Detector(store, db, [rule(), rule("other")], clock=clock, timing=TIMING, rule_timeout_s=0.5)
    detector.run_all()
    put(store, 2, T0 + timedelta(minutes=1))

    def stuck(*_: Any, **__: Any) -> Any:
        time.sleep(2)
        return iter(())

    monkeypatch.setattr(scheduler, "evaluate_many", stuck)
    clock.at = T0 + timedelta(minutes=6)
    reports = detector.run_all()
    assert [(r.rule_id, r.windows, r.alerts, r.error) for r in reports] == [
        ("other", 1, 2, None), ("ssh-failed", 1, 2, None)
    ]  # fmt: skip
