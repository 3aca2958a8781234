"""Event search for analysts and agency officers: filters become one backend-neutral query, and
every read is limited to the principal's agencies (the store's `agencies=` argument).

Also here: the timeline (events per time bucket), CSV rows with spreadsheet formulas
neutralised, and the pivot from an alert to the surrounding events of its host, user or source IP.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc import ecs
from soc.db.detection import Alert
from soc.errors import QueryError
from soc.store.base import Cursor, EventStore, Hit, scan
from soc.store.query import And, Cidr, MatchAll, Not, Query, Range, Term, Wildcard, check
from soc.triage.principal import Invalid, NotFound, Principal

AGENCY_FIELD = "organization.id"
TEXT_FIELD = "message"
"""Free text searches `message`; `event.original` is kept as evidence but not indexed (ECS)."""
SHORTCUTS = {
    "host": "host.name",
    "user": "user.name",
    "source_ip": "source.ip",
    "dataset": "event.dataset",
    "outcome": "event.outcome",
}
"""Form fields with their own input, and the ECS field each one filters."""
PIVOTS = {"host": "host.name", "user": "user.name", "source_ip": "source.ip"}
MAX_CONDITIONS = 20
MAX_PIVOT_MINUTES = 24 * 60
EXPORT_CAP = 100_000
_FIELD_NAME = re.compile(r"^@?[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_STEPS = [timedelta(minutes=m) for m in (1, 5, 10, 15, 30, 60, 180, 360, 720, 1440, 10080)]
MAX_BUCKETS = 60


class FilterError(Invalid):
    """A filter that cannot be run; `key` and `values` let the page say it in the user's language."""

    def __init__(self, key: str, message: str, **values: Any) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Condition:
    field: str
    value: str
    negate: bool = False

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negate else '='}{self.value}"


@dataclass(frozen=True)
class EventFilter:
    conditions: tuple[Condition, ...] = ()
    text: str = ""
    start: datetime | None = None
    """Inclusive lower bound on @timestamp (UTC-aware)."""
    end: datetime | None = None
    """Exclusive upper bound on @timestamp (UTC-aware)."""
    agencies: tuple[str, ...] = ()
    """Requested agencies; cut down to the visible ones before any read."""


def parse_condition(text: str) -> Condition:
    """`host.name=web01`, `event.outcome!=success`; `*` and `?` are wildcards, `a.b.c.d/nn` a network."""
    name, _, value = text.partition("=")
    negate = name.endswith("!")
    name, value = name.removesuffix("!").strip(), value.strip()
    if not _FIELD_NAME.match(name) or not value:
        raise FilterError("events.error.condition", f"not a field=value filter: {text!r}", text=text)
    return Condition(name, value, negate)


def parse_time(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A time typed by a person: ISO 8601; without an offset it is local time in `zone`."""
    if not text or not text.strip():
        return None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        at = (at.replace(tzinfo=zone) if at.tzinfo is None else at).astimezone(UTC)
    except (ValueError, OverflowError):
        raise FilterError("events.error.time", f"not a date and time: {text!r}", text=text) from None
    if not 1970 <= at.year <= 2200:
        raise FilterError("events.error.time", f"not a date and time: {text!r}", text=text)
    return at


def make_filter(
    *,
    zone: ZoneInfo,
    text: str | None = None,
    start: str | None = None,
    end: str | None = None,
    agencies: Iterable[str] = (),
    conditions: Iterable[str] = (),
    shortcuts: Mapping[str, str | None] | None = None,
) -> EventFilter:
    """The filter from request parameters. `conditions` may hold several lines each."""
    found = [
        Condition(SHORTCUTS[name], value.strip())
        for name, value in (shortcuts or {}).items()
        if value and value.strip()
    ]
    for chunk in conditions:
        found += [parse_condition(line) for line in chunk.splitlines() if line.strip()]
    if len(found) > MAX_CONDITIONS:
        raise FilterError("events.error.too_many", f"at most {MAX_CONDITIONS} filters", n=MAX_CONDITIONS)
    f = EventFilter(
        conditions=tuple(found),
        text=(text or "").strip(),
        start=parse_time(start, zone),
        end=parse_time(end, zone),
        agencies=tuple(a.strip() for a in agencies if a and a.strip()),
    )
    if f.start and f.end and f.start >= f.end:
        raise FilterError("events.error.range", "the start of the time range must be before its end")
    build_query(f)  # refuse a bad filter now, with a clear message, not halfway through a page
    return f


def build_query(f: EventFilter) -> Query:
    items: list[Query] = []
    for c in f.conditions:
        if c.field == AGENCY_FIELD and not c.negate:
            continue  # becomes part of the agency scope (see agencies_for)
        node = _node(c)
        items.append(Not(node) if c.negate else node)
    if f.text:
        items.append(Wildcard(TEXT_FIELD, f"*{_escape(f.text)}*"))
    if f.start or f.end:
        items.append(
            Range(
                "@timestamp",
                gte=ecs.format_time(f.start) if f.start else None,
                lt=ecs.format_time(f.end) if f.end else None,
            )
        )
    query: Query = MatchAll() if not items else items[0] if len(items) == 1 else And(tuple(items))
    try:
        check(query)
    except QueryError as exc:
        raise FilterError("events.error.query", str(exc), detail=str(exc)) from None
    return query


def agencies_for(principal: Principal, f: EventFilter) -> frozenset[str] | None:
    """What the store may read: the requested agencies (also `organization.id=` filters) cut down to
    the visible ones; None only for a city-wide principal who asked for no agency."""
    requested = list(f.agencies) + [c.value for c in f.conditions if c.field == AGENCY_FIELD and not c.negate]
    return principal.allowed(requested)


@dataclass(frozen=True)
class EventRow:
    id: str
    index: str
    at: datetime | None
    agency: str | None
    dataset: str | None
    host: str | None
    user: str | None
    source_ip: str | None
    outcome: str | None
    text: str
    fields: list[tuple[str, str]]
    source: dict[str, Any]
    highlighted: bool = False


@dataclass(frozen=True)
class EventPage:
    rows: list[EventRow]
    next: str | None
    """Opaque position for the next page; None on the last one."""


def search(
    store: EventStore,
    principal: Principal,
    f: EventFilter,
    *,
    size: int = 50,
    after: str | None = None,
    highlight: frozenset[str] = frozenset(),
) -> EventPage:
    """One page in the store's order (ingest time, then id); `after` comes from the previous page."""
    principal.require("events.read")
    page = store.search(
        build_query(f), agencies=agencies_for(principal, f), size=size, after=decode_cursor(after)
    )
    # Pages follow the store's order (when events arrived); within a page, by event time.
    rows = sorted((row_of(hit, highlight) for hit in page.hits), key=_time_key)
    return EventPage(rows, encode_cursor(page.next) if page.next else None)


def count(store: EventStore, principal: Principal, f: EventFilter) -> int:
    principal.require("events.read")
    return store.count(build_query(f), agencies=agencies_for(principal, f))


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime
    count: int


@dataclass(frozen=True)
class Timeline:
    buckets: list[Bucket]
    step: timedelta
    total: int
    peak: int = field(default=0)


def timeline(store: EventStore, principal: Principal, f: EventFilter, zone: ZoneInfo) -> Timeline:
    """Events per time bucket over the filter's range (or the data's, when open), at most ~60
    buckets aligned on local time; empty buckets are kept so gaps show."""
    principal.require("events.read")
    counts = store.group_counts(build_query(f), ["@timestamp"], agencies=agencies_for(principal, f))
    stamps = {int(k[0]): n for k, n in counts.items() if isinstance(k[0], int)}
    total = sum(stamps.values())
    if not stamps and not (f.start and f.end):
        return Timeline([], _STEPS[0], 0)
    lo = ecs.to_millis(f.start) if f.start else min(stamps)
    hi = ecs.to_millis(f.end) if f.end else max(stamps) + 1
    span = max(hi - lo, 1)
    step = next(
        (s for s in _STEPS if span / (s.total_seconds() * 1000) <= MAX_BUCKETS),
        timedelta(days=-(-span // (MAX_BUCKETS * 86_400_000))),
    )
    step_ms = int(step.total_seconds() * 1000)
    offset = int(
        (zone.utcoffset(datetime.fromtimestamp(lo / 1000, UTC)) or timedelta()).total_seconds() * 1000
    )
    first = (lo + offset) // step_ms * step_ms - offset
    n = (hi - first + step_ms - 1) // step_ms
    per = [0] * max(n, 1)
    for ms, c in stamps.items():
        i = (ms - first) // step_ms
        if 0 <= i < len(per):
            per[i] += c
    buckets = [Bucket(_at(first + i * step_ms), _at(first + (i + 1) * step_ms), c) for i, c in enumerate(per)]
    return Timeline(buckets, step, total, max(per))


def csv_lines(
    store: EventStore,
    principal: Principal,
    f: EventFilter,
    zone: ZoneInfo,
    *,
    cap: int = EXPORT_CAP,
    truncated_note: str = "",
) -> Iterator[str]:
    """CSV text, line by line, for streaming; stops after `cap` rows with a note line."""
    principal.require("events.read")
    query, agencies = build_query(f), agencies_for(principal, f)
    yield _csv_line(
        raw=True,
        cells=["@timestamp", "local_time", "organization.id", "event.dataset", "host.name", "user.name",
         "source.ip", "event.outcome", "message", "event.original", "_id"]
    )  # fmt: skip
    for written, hit in enumerate(scan(store, query, agencies=agencies, page_size=1000)):
        if written == cap:
            yield _csv_line([truncated_note or f"export stopped at {cap} rows; narrow the filters"])
            return
        s = hit.source
        at = _timestamp(s)
        yield _csv_line(
            [_str(s.get("@timestamp")), _local(at, zone), _str(ecs.get(s, AGENCY_FIELD)),
             _str(ecs.get(s, "event.dataset")), _str(ecs.get(s, "host.name")), _str(ecs.get(s, "user.name")),
             _str(ecs.get(s, "source.ip")), _str(ecs.get(s, "event.outcome")), _str(ecs.get(s, "message")),
             _str(ecs.get(s, ecs.ORIGINAL)), hit.id]
        )  # fmt: skip


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


@dataclass(frozen=True)
class Pivot:
    alert: Alert
    by: str
    minutes: int
    filter: EventFilter
    matched: frozenset[str]
    """Ids of the events the alert matched, highlighted in the results."""


def scoped_alert(session: Session, principal: Principal, alert_id: str) -> Alert:
    """The alert if the principal may see it; NotFound otherwise (never tell which)."""
    principal.require("alerts.read")
    stmt = select(Alert).where(Alert.id == alert_id)
    scope = principal.condition(Alert.agency.expression)
    alert = session.scalar(stmt if scope is None else stmt.where(scope))
    if alert is None:
        raise NotFound(f"alert {alert_id}")
    return alert


def pivot(session: Session, principal: Principal, alert_id: str, *, by: str, minutes: int) -> Pivot:
    """The events of the alert's host, user or source IP within ± `minutes` of its first and last
    event, in the alert's agency only."""
    principal.require("events.read")
    alert = scoped_alert(session, principal, alert_id)
    if by not in PIVOTS:
        raise FilterError("events.error.pivot_by", f"pivot by one of {', '.join(PIVOTS)}", by=by)
    if not 1 <= minutes <= MAX_PIVOT_MINUTES:
        raise FilterError(
            "events.error.minutes", f"minutes must be 1 to {MAX_PIVOT_MINUTES}", max=MAX_PIVOT_MINUTES
        )
    value = {"host": alert.host, "user": alert.user_name, "source_ip": alert.source_ip}[by]
    if not value:
        raise FilterError("events.error.pivot_value", f"this alert has no {by} to pivot on", by=by)
    span = timedelta(minutes=minutes)
    f = EventFilter(
        conditions=(Condition(PIVOTS[by], value),),
        start=alert.first_at - span,
        end=alert.last_at + span,
        agencies=(alert.agency,) if alert.agency else (),
    )
    matched = frozenset(str(e["id"]) for e in alert.events if isinstance(e, dict) and e.get("id"))
    return Pivot(alert, by, minutes, f, matched)


def row_of(hit: Hit, highlight: frozenset[str] = frozenset()) -> EventRow:
    s = hit.source
    text = ecs.get(s, "message") or ecs.get(s, ecs.ORIGINAL) or ""
    return EventRow(
        id=hit.id, index=hit.index, at=_timestamp(s), agency=_opt(ecs.get(s, AGENCY_FIELD)),
        dataset=_opt(ecs.get(s, "event.dataset")), host=_opt(ecs.get(s, "host.name")),
        user=_opt(ecs.get(s, "user.name")), source_ip=_opt(ecs.get(s, "source.ip")),
        outcome=_opt(ecs.get(s, "event.outcome")), text=str(text), fields=flatten(s), source=s,
        highlighted=hit.id in highlight,
    )  # fmt: skip


def flatten(doc: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every field as (dotted name, text), sorted by name; arrays of scalars joined with commas."""
    out: list[tuple[str, str]] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += flatten(value, name + ".")
        elif isinstance(value, list) and all(not isinstance(v, Mapping | list) for v in value):
            out.append((name, ", ".join(_str(v) for v in value)))
        elif isinstance(value, list):
            out.append((name, json.dumps(value, ensure_ascii=False, default=str)))
        else:
            out.append((name, _str(value)))
    return sorted(out) if not prefix else out


def encode_cursor(cursor: Cursor) -> str:
    return f"{cursor[0]}~{cursor[1]}"


def decode_cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    ms, sep, doc_id = text.partition("~")
    if not sep or not ms.isdigit() or not doc_id or len(doc_id) > 100:
        raise FilterError("events.error.cursor", "not a page position from this search")
    return int(ms), doc_id


def _node(c: Condition) -> Query:
    kind = ecs.field_type(c.field)
    if kind == "ip" and "/" in c.value:
        return Cidr(c.field, c.value)
    if kind == "keyword" and any(ch in c.value for ch in "*?"):
        return Wildcard(c.field, c.value)
    return Term(c.field, c.value)


def _time_key(row: EventRow) -> tuple[datetime, str]:
    return (row.at or datetime.min.replace(tzinfo=UTC), row.id)


def _escape(text: str) -> str:
    return re.sub(r"([\\*?])", r"\\\1", text)


def _csv_line(cells: list[str], raw: bool = False) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(cells if raw else [neutralise(c) for c in cells])
    return buf.getvalue()


def _timestamp(source: Mapping[str, Any]) -> datetime | None:
    try:
        return ecs.parse_time(source.get("@timestamp"))
    except ValueError:
        return None


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    if at is None:
        return ""
    local = at.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%d/%m/%Y %H:%M:%S} {offset[:3]}:{offset[3:]}"


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _opt(value: Any) -> str | None:
    return None if value is None else _str(value)
