"""Rule health and control: every loaded rule with its state, last run, hits, lag, errors and open
gaps; enable, disable, run now and backfill a gap — each change audited.

The rules come from the same place `soc serve` loads them (`soc.detect.service.detector_for` over
`settings.rules_dir`); a `Catalog` holds them with a Detector, so "run now" and "backfill" go
through exactly the code the scheduler runs (lease, watermark compare-and-set, create-only alerts).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, false, func, select
from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.detection import Alert, DetectionGap, RuleRun, RuleState
from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.detect import windows
from soc.detect.model import Rule
from soc.detect.rules import load_rules
from soc.detect.scheduler import Detector, RunReport
from soc.detect.service import detector_for
from soc.errors import ConfigError
from soc.settings import Settings
from soc.store.base import EventStore
from soc.triage.principal import Invalid, NotFound, Principal

log = logging.getLogger(__name__)
HITS_SPAN = timedelta(hours=24)
MAX_REASON = 500


@dataclass
class Catalog:
    """The loaded rules and a Detector over them; `problems` lists the rule files that failed."""

    detector: Detector
    problems: list[str] = field(default_factory=list)
    backend: str = "sqlite"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rules(self) -> dict[str, Rule]:
        return self.detector.rules

    @classmethod
    def load(cls, settings: Settings, store: EventStore, db: Engine) -> Catalog:
        try:
            return cls(detector_for(settings, store, db), backend=settings.store)
        except ConfigError as exc:
            # `soc serve` refuses to start on a broken rule; the web app still shows the rest.
            rules, problems = load_rules([settings.resolved_rules_dir])
            timing = windows.Timing(settle=timedelta(seconds=settings.settle_seconds))
            log.warning("rules with problems are left out of the rule view: %d problems", len(exc.problems))
            return cls(Detector(store, db, rules, timing=timing), problems, settings.store)

    def rule(self, rule_id: str) -> Rule:
        rule = self.rules.get(rule_id)
        if rule is None:
            raise NotFound(f"no rule {rule_id}")
        return rule


@dataclass
class RuleHealth:
    id: str
    title: str
    level: str
    loaded: bool
    """False for a rule with state in the database whose file is gone."""
    enabled: bool
    paused_reason: str | None
    interval_seconds: int
    last_run_at: datetime | None
    last_duration_ms: int | None
    last_lag_seconds: int | None
    hits_24h: int
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    open_gaps: int
    watermark_at: datetime | None

    @property
    def state(self) -> str:
        """enabled, disabled, paused (after failures) or missing (file gone)."""
        if not self.loaded:
            return "missing"
        if not self.enabled:
            return "disabled"
        return "paused" if self.paused_reason else "enabled"


def health(session: Session, principal: Principal, catalog: Catalog, now: datetime) -> list[RuleHealth]:
    """Every rule, loaded ones first by title."""
    principal.require("rules.read")
    states = {s.rule_id: s for s in session.scalars(select(RuleState))}
    last_ids = select(func.max(RuleRun.id)).group_by(RuleRun.rule_id)
    last_runs = {r.rule_id: r for r in session.scalars(select(RuleRun).where(RuleRun.id.in_(last_ids)))}
    error_ids = select(func.max(RuleRun.id)).where(RuleRun.error.is_not(None)).group_by(RuleRun.rule_id)
    errors = {r.rule_id: r for r in session.scalars(select(RuleRun).where(RuleRun.id.in_(error_ids)))}
    seen = principal.allowed(None)
    hits_query = select(Alert.rule_id, func.count()).where(Alert.created_at >= now - HITS_SPAN)
    if seen is not None:
        hits_query = hits_query.where(Alert.agency.in_(sorted(seen)) if seen else false())
    hits = {str(r): int(n) for r, n in session.execute(hits_query.group_by(Alert.rule_id))}
    open_gaps = (
        select(DetectionGap.rule_id, func.count())
        .where(DetectionGap.backfilled_at.is_(None))
        .group_by(DetectionGap.rule_id)
    )
    gaps = {str(r): int(n) for r, n in session.execute(open_gaps)}
    out: list[RuleHealth] = []
    for rule_id in sorted(set(catalog.rules) | set(states)):
        rule, state = catalog.rules.get(rule_id), states.get(rule_id)
        run, error = last_runs.get(rule_id), errors.get(rule_id)
        out.append(
            RuleHealth(
                id=rule_id, title=rule.title if rule else rule_id, level=rule.level if rule else "",
                loaded=rule is not None, enabled=state.enabled if state else True,
                paused_reason=state.paused_reason if state else None,
                interval_seconds=int(rule.interval.total_seconds()) if rule else 0,
                last_run_at=run.started_at if run else None,
                last_duration_ms=run.duration_ms if run else None,
                last_lag_seconds=run.lag_seconds if run else None, hits_24h=int(hits.get(rule_id, 0)),
                last_error=error.error if error else None, last_error_at=error.started_at if error else None,
                consecutive_failures=state.consecutive_failures if state else 0,
                open_gaps=int(gaps.get(rule_id, 0)), watermark_at=state.watermark_at if state else None,
            )
        )  # fmt: skip
    out.sort(key=lambda h: (not h.loaded, h.title.lower(), h.id))
    return out


def one(session: Session, principal: Principal, catalog: Catalog, rule_id: str, now: datetime) -> RuleHealth:
    principal.require("rules.read")
    catalog.rule(rule_id)
    found = [h for h in health(session, principal, catalog, now) if h.id == rule_id]
    return found[0]


def runs(session: Session, principal: Principal, rule_id: str, limit: int = 50) -> list[RuleRun]:
    principal.require("rules.read")
    query = select(RuleRun).where(RuleRun.rule_id == rule_id).order_by(RuleRun.id.desc()).limit(limit)
    return list(session.scalars(query))


def gaps(session: Session, principal: Principal, rule_id: str, limit: int = 100) -> list[DetectionGap]:
    """Open gaps first (oldest first), then the latest backfilled ones."""
    principal.require("rules.read")
    query = (
        select(DetectionGap)
        .where(DetectionGap.rule_id == rule_id)
        .order_by(DetectionGap.backfilled_at.is_not(None), DetectionGap.start_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def converted(catalog: Catalog, rule_id: str) -> str:
    """The rule's query for the configured backend, as `soc rules convert` prints it."""
    from soc.detect.cli import render

    return render(catalog.rule(rule_id), catalog.backend, catalog.rules)


def _state(session: Session, rule_id: str) -> RuleState:
    state = session.get(RuleState, rule_id)
    if state is None:
        state = RuleState(rule_id=rule_id, updated_at=utcnow())
        session.add(state)
    return state


def set_enabled(
    session: Session, principal: Principal, catalog: Catalog, rule_id: str, enabled: bool, reason: str = ""
) -> RuleState:
    """Enable (also lifts a pause after failures) or disable with a reason; audited."""
    principal.require("rules.manage")
    rule = catalog.rule(rule_id)
    reason = reason.strip()
    if not enabled and not reason:
        raise Invalid("a reason is needed to disable a rule")
    if len(reason) > MAX_REASON:
        raise Invalid(f"the reason is longer than {MAX_REASON} characters")
    state = _state(session, rule_id)
    before = {"enabled": state.enabled, "paused_reason": state.paused_reason}
    state.enabled = enabled
    state.paused_reason = None if enabled else f"disabled by {principal.username}: {reason}"
    if enabled:
        state.consecutive_failures = 0
    state.updated_at = utcnow()
    audit.record(
        session, actor=principal.username, action="rule.enable" if enabled else "rule.disable",
        target_type="rule", target_id=rule_id,
        detail={"title": rule.title, "reason": reason, "before": before},
    )  # fmt: skip
    return state


def run_now(db: Engine, principal: Principal, catalog: Catalog, rule_id: str) -> RunReport:
    """One detection cycle for this rule, now, through the scheduler's own code; audited."""
    principal.require("rules.manage")
    rule = catalog.rule(rule_id)
    with session_scope(db) as session:
        state = _state(session, rule_id)
        if not state.enabled or state.paused_reason:
            raise Invalid("the rule is disabled or paused; enable it first")
    with catalog.lock:
        report = catalog.detector.run_rule(rule_id)
    with session_scope(db) as session:
        audit.record(
            session, actor=principal.username, action="rule.run", target_type="rule", target_id=rule_id,
            detail={"title": rule.title, "windows": report.windows, "alerts": report.alerts,
                    "skipped": report.skipped, "error": report.error},
        )  # fmt: skip
    return report


def backfill(db: Engine, principal: Principal, catalog: Catalog, rule_id: str, gap_id: int) -> int:
    """Evaluate an open gap of this rule; returns the alerts created. Audited."""
    principal.require("rules.manage")
    rule = catalog.rule(rule_id)
    with session_scope(db) as session:
        gap = session.get(DetectionGap, gap_id)
        if gap is None or gap.rule_id != rule_id:
            raise NotFound(f"no gap {gap_id} of rule {rule_id}")
        if gap.backfilled_at is not None:
            raise Invalid("this gap was already backfilled")
        span = {"start": gap.start_at.isoformat(), "end": gap.end_at.isoformat()}
    with catalog.lock:
        created = catalog.detector.backfill(gap_id)
    with session_scope(db) as session:
        audit.record(
            session, actor=principal.username, action="rule.backfill", target_type="rule", target_id=rule_id,
            detail={"title": rule.title, "gap": gap_id, **span, "alerts": created},
        )  # fmt: skip
    return created
