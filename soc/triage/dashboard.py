"""The dashboard's numbers: alerts over time by severity, top rules, alerts per agency, mean time
to acknowledge and to resolve, open alerts by status — always within the principal's agencies —
and, for readers of dossiers, the security-level dossier status ("approved X of Y" per agency),
scoped as the dossier list is.

Counting happens in the database (per UTC hour, then regrouped here into local hours or days), so
a range of 30 days at 100k alerts reads at most 720 × 5 small rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from soc.db.detection import Alert
from soc.db.models import Agency
from soc.detect.model import LEVELS
from soc.dossiers import browse, report
from soc.dossiers.access import Actor
from soc.dossiers.service import DossierService
from soc.triage import alert_query
from soc.triage.principal import Invalid, Principal

RANGES: dict[str, tuple[timedelta, str]] = {
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
    "30d": (timedelta(days=30), "day"),
}
"""Time-range choices of the dashboard: span and bar size."""
STATUSES = ("new", "acknowledged", "in_progress", "closed")
OPEN_STATUSES = ("new", "acknowledged", "in_progress")
MAX_BUCKETS = 24 * 93
"""The alerts-over-time chart refuses ranges that would draw more bars than this."""


@dataclass(frozen=True)
class AlertFilter:
    """The alert filters shared with the alerts page; time is the alert's creation time."""

    start: datetime
    end: datetime
    statuses: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise Invalid("times need a zone")
        if self.end <= self.start:
            raise Invalid("the end of the time range must be after its start")

    @property
    def bucket(self) -> str:
        """Hourly bars up to two days, daily bars beyond."""
        return "hour" if self.end - self.start <= timedelta(hours=48) else "day"


def conditions(principal: Principal, f: AlertFilter, *, timed: bool = True) -> list[ColumnElement[bool]]:
    """WHERE conditions for the filter, cut down to the principal's agencies."""
    conds: list[ColumnElement[bool]] = []
    if timed:
        conds += [Alert.created_at >= f.start, Alert.created_at < f.end]
    visible = principal.allowed(f.agencies)
    if visible is not None:
        conds.append(Alert.agency.in_(sorted(visible)) if visible else false())
    if f.statuses:
        conds.append(Alert.status.in_(f.statuses))
    if f.levels:
        conds.append(Alert.level.in_(f.levels))
    if f.rules:
        conds.append(Alert.rule_id.in_(f.rules))
    return conds


@dataclass
class OverTime:
    bucket: str
    """hour or day (local time)."""
    starts: list[datetime]
    """Start of each bar, in the display zone."""
    counts: dict[str, list[int]]
    """Per level (every level of LEVELS, in that order): one count per bar."""

    @property
    def totals(self) -> list[int]:
        return [sum(c[i] for c in self.counts.values()) for i in range(len(self.starts))]


@dataclass
class Times:
    mtta_seconds: float | None
    acknowledged: int
    mttr_seconds: float | None
    resolved: int


@dataclass
class Dashboard:
    range: str
    start: datetime
    end: datetime
    total: int
    over_time: OverTime
    top_rules: list[tuple[str, str, int]]
    """(rule id, title, alerts), most first."""
    per_agency: list[tuple[str, str, int]]
    """(agency code, name, alerts), most first."""
    times: Times
    open_by_status: dict[str, int] = field(default_factory=dict)


def _floor(at: datetime, bucket: str, zone: ZoneInfo) -> datetime:
    local = at.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0) if bucket == "day" else local


def bucket_starts(start: datetime, end: datetime, bucket: str, zone: ZoneInfo) -> list[datetime]:
    out: list[datetime] = []
    at = _floor(start, bucket, zone)
    while at < end:
        out.append(at)
        if len(out) > MAX_BUCKETS:
            raise Invalid(f"the time range is too long for one chart (over {MAX_BUCKETS} bars)")
        if bucket == "hour":
            at = (at.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
        else:  # the next local midnight, even across a change of offset
            at = _floor(at + timedelta(hours=26), "day", zone)
    return out


def _hour_key(session: Session, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def count_over_time(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    column: Any,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
) -> OverTime:
    """Alerts per bar and level, by `column` (a time column of Alert) within [start, end)."""
    bucket = AlertFilter(start=start, end=end).bucket
    starts = bucket_starts(start, end, bucket, zone)
    index = {s: i for i, s in enumerate(starts)}
    counts = {level: [0] * len(starts) for level in LEVELS}
    key = _hour_key(session, column)
    query = (
        select(key, Alert.level, func.count())
        .where(*where, column >= start, column < end)
        .group_by(key, Alert.level)
    )
    for hour, level, n in session.execute(query):
        at = datetime.strptime(str(hour), "%Y-%m-%d %H").replace(tzinfo=UTC)
        i = index.get(_floor(at, bucket, zone))
        if i is not None:
            counts.setdefault(level, [0] * len(starts))[i] += n
    return OverTime(bucket, starts, counts)


def over_time(session: Session, principal: Principal, f: AlertFilter, zone: ZoneInfo) -> OverTime:
    where = conditions(principal, f, timed=False)
    return count_over_time(session, where, Alert.created_at, f.start, f.end, zone)


def top_rules(
    session: Session, principal: Principal, f: AlertFilter, limit: int = 10
) -> list[tuple[str, str, int]]:
    n = func.count().label("n")
    query = (
        select(Alert.rule_id, func.max(Alert.rule_title), n)
        .where(*conditions(principal, f))
        .group_by(Alert.rule_id)
        .order_by(n.desc(), Alert.rule_id)
        .limit(limit)
    )
    return [(str(r), str(t), int(c)) for r, t, c in session.execute(query)]


def per_agency(session: Session, principal: Principal, f: AlertFilter) -> list[tuple[str, str, int]]:
    n = func.count().label("n")
    query = select(Alert.agency, n).where(*conditions(principal, f)).group_by(Alert.agency).order_by(n.desc())
    names = {str(c): str(n) for c, n in session.execute(select(Agency.code, Agency.name))}
    return [(a or "", names.get(a or "", a or "—"), int(c)) for a, c in session.execute(query)]


def response_times(session: Session, principal: Principal, f: AlertFilter) -> Times:
    """Mean time from an alert's creation to its first acknowledgement, and to its closing."""
    base = conditions(principal, f)
    ack = _seconds(session, Alert.acknowledged_at, Alert.created_at)
    mtta, acked = session.execute(
        select(func.avg(ack), func.count()).where(*base, Alert.acknowledged_at.is_not(None))
    ).one()
    res = _seconds(session, Alert.closed_at, Alert.created_at)
    mttr, closed = session.execute(
        select(func.avg(res), func.count()).where(*base, Alert.closed_at.is_not(None))
    ).one()
    return Times(
        None if mtta is None else float(mtta), int(acked), None if mttr is None else float(mttr), int(closed)
    )


def open_by_status(session: Session, principal: Principal, f: AlertFilter) -> dict[str, int]:
    """Open alerts now (whatever their age), per status."""
    query = (
        select(Alert.status, func.count())
        .where(*conditions(principal, f, timed=False), Alert.status.in_(OPEN_STATUSES))
        .group_by(Alert.status)
    )
    found = {str(st): int(n) for st, n in session.execute(query)}
    return {s: int(found.get(s, 0)) for s in OPEN_STATUSES}


def range_filter(range_key: str, now: datetime, agencies: Sequence[str] = ()) -> AlertFilter:
    if range_key not in RANGES:
        raise Invalid(f"unknown range '{range_key}': use one of {', '.join(RANGES)}")
    span, _ = RANGES[range_key]
    return AlertFilter(start=now - span, end=now, agencies=tuple(a for a in agencies if a))


def dashboard(
    session: Session,
    principal: Principal,
    *,
    range_key: str,
    now: datetime,
    zone: ZoneInfo,
    agencies: Sequence[str] = (),
) -> Dashboard:
    principal.require("dashboard.read")
    f = range_filter(range_key, now, agencies)
    chart = over_time(session, principal, f, zone)
    return Dashboard(
        range=range_key, start=f.start, end=f.end, total=sum(chart.totals), over_time=chart,
        top_rules=top_rules(session, principal, f), per_agency=per_agency(session, principal, f),
        times=response_times(session, principal, f), open_by_status=open_by_status(session, principal, f),
    )  # fmt: skip


LIST_DEFAULT_SPAN = timedelta(hours=24)


def list_chart(
    session: Session, principal: Principal, params: Mapping[str, Sequence[str]], now: datetime, zone: ZoneInfo
) -> tuple[OverTime, datetime, datetime]:
    """Alerts over time for the alert list's own filter (`soc.triage.alert_query`: the same
    parameters, the same meaning — no status means open alerts, the time range is over
    `first_at`), bucketed by `first_at`. Without a range, the last 24 hours."""
    f = alert_query.parse_filter({k: list(v) for k, v in params.items()}, zone=zone)
    until = f.until or now
    since = f.since or until - LIST_DEFAULT_SPAN
    if until <= since:
        raise Invalid("the end of the time range must be after its start")
    where = alert_query.conditions(session, principal, f)
    return count_over_time(session, where, Alert.first_at, since, until, zone), since, until


@dataclass(frozen=True)
class AgencyDossiers:
    code: str
    name: str
    approved: int
    total: int
    overdue: int


@dataclass(frozen=True)
class DossierStatus:
    """ "Approved X of Y" over the dossiers the reader may see, and per agency (by name)."""

    approved: int
    total: int
    overdue: int
    per_agency: list[AgencyDossiers]


def dossier_status(
    session: Session, principal: Principal, service: DossierService, now: datetime
) -> DossierStatus | None:
    """The dossier status the reader may see (None without dossiers.read): the city for city-wide
    roles, an officer's own agency, an appraiser's or approver's routed dossiers."""
    if not principal.can("dossiers.read"):
        return None
    actor = Actor(principal.username, principal.grants)
    scope = browse.scope_of(service, session, actor)
    whole = report.status(session, service, now, scope=scope)
    rows = [
        AgencyDossiers(a.code, a.name, a.status.approved, a.status.total, a.status.overdue)
        for a in report.by_agency(session, service, now, scope=scope)
    ]
    return DossierStatus(whole.approved, whole.total, whole.overdue, rows)
