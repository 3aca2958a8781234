"""Finding alerts: filters, sort orders, keyset pages and grouped counts, always within the
principal's agencies.

Pages are keyset pages (no OFFSET): the cursor is the last row's sort key plus its id, so page 500
costs what page 1 costs. Time orders ("newest", "oldest") follow `created_at`, the column the
alert indexes end in; when the filter holds a short list of agencies, statuses or one rule, the
page is read as one index range per value (`agency = ?`, `status = ?`, `rule_id = ?`, each
ordered by `created_at`) and merged here, so SQLite and PostgreSQL never sort the whole table to
show 50 rows. The time range filters on `first_at` (when the events happened).
"""

from __future__ import annotations

import base64
import binascii
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from soc.db.detection import Alert
from soc.db.notify import AlertGroup, AlertGroupMember
from soc.triage.principal import Invalid, Principal

LEVELS = ("critical", "high", "medium", "low", "informational")
"""Most severe first."""
STATUSES = ("new", "acknowledged", "in_progress", "closed", "suppressed", "merged")
OPEN = ("new", "acknowledged", "in_progress")
SORTS = ("newest", "oldest", "severity", "count")
GROUP_BY = {"rule": Alert.rule_id, "agency": Alert.agency, "host": Alert.host}
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_SPLIT = 8
"""Split a page into per-value index ranges only up to this many values."""
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class AlertFilter:
    status: tuple[str, ...] = OPEN
    """Empty: every status."""
    level: tuple[str, ...] = ()
    agency: tuple[str, ...] = ()
    rule: str | None = None
    since: datetime | None = None
    """first_at >= since (UTC-aware)."""
    until: datetime | None = None
    """first_at < until (UTC-aware)."""
    assignee: str | None = None
    """A user name, "unassigned" or "me"."""
    text: str | None = None
    group: str | None = None
    """An AlertGroup public id (ALR-…): its member alerts."""
    host: str | None = None
    """Exact host (a grouped row of the host view)."""

    def for_group(self, by: str, value: str | None) -> AlertFilter:
        """This filter narrowed to one row of the grouped view."""
        if by == "rule":
            return replace(self, rule=value)
        if by == "agency":
            return replace(self, agency=(value,) if value else ())
        return replace(self, host=value or "")


@dataclass(frozen=True)
class Page:
    alerts: list[Alert]
    next_cursor: str | None


@dataclass(frozen=True)
class GroupRow:
    key: str | None
    label: str
    count: int
    """Alerts in the group."""
    events: int
    """Sum of the alerts' event counts."""
    level: str
    """The most severe level among them."""
    last_at: datetime


def parse_filter(params: dict[str, Any], *, zone: ZoneInfo = ZONE) -> AlertFilter:
    """A filter from query parameters (lists for repeated keys). Local times are read in `zone`."""

    def many(name: str) -> tuple[str, ...]:
        raw = params.get(name) or []
        values = [raw] if isinstance(raw, str) else list(raw)
        return tuple(dict.fromkeys(p.strip() for v in values for p in str(v).split(",") if p.strip()))

    def one(name: str) -> str | None:
        got = many(name)
        return got[0] if got else None

    statuses = many("status")
    if statuses == ("open",) or (not statuses and not one("group")):
        statuses = OPEN
    elif "all" in statuses:
        statuses = ()
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise Invalid(f"unknown status {bad[0]!r}; use one of {', '.join(STATUSES)}, open or all")
    levels = many("level") or many("severity")
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise Invalid(f"unknown level {bad[0]!r}; use one of {', '.join(LEVELS)}")
    return AlertFilter(
        status=statuses, level=levels, agency=many("agency"), rule=one("rule"),
        since=parse_time(one("since") or one("from"), zone),
        until=parse_time(one("until") or one("to"), zone),
        assignee=one("assignee"), text=one("q"), group=one("group"),
        host=(one("host") or "") if "host" in params else None,
    )  # fmt: skip


def parse_time(value: str | None, zone: ZoneInfo = ZONE) -> datetime | None:
    """`2026-11-27T08:00` (a datetime-local input, read in `zone`) or ISO 8601 with an offset."""
    if not value:
        return None
    text = value.strip().replace(" ", "T")
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise Invalid(f"{value!r} is not a date and time (use 2026-11-27T08:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at.astimezone(UTC)


def scope_of(principal: Principal) -> list[ColumnElement[bool]]:
    """The agency scope as WHERE conditions (none for city-wide principals)."""
    condition = principal.condition(Alert.agency.expression)
    return [] if condition is None else [condition]


def conditions(session: Session, principal: Principal, f: AlertFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filter, the principal's agency scope always among them."""
    where = scope_of(principal)
    if f.agency:
        # Asking for agencies one may not see yields nothing rather than an error: no oracle.
        allowed = principal.allowed(f.agency)
        where.append(Alert.agency.in_(sorted(allowed if allowed is not None else f.agency)))
    if f.status:
        where.append(Alert.status.in_(f.status))
    if f.level:
        where.append(Alert.level.in_(f.level))
    if f.rule:
        where.append(Alert.rule_id == f.rule)
    if f.host is not None:
        where.append(Alert.host == f.host if f.host else Alert.host.is_(None))
    if f.since:
        where.append(Alert.first_at >= f.since)
    if f.until:
        where.append(Alert.first_at < f.until)
    if f.assignee == "unassigned":
        where.append(Alert.assignee.is_(None))
    elif f.assignee:
        where.append(Alert.assignee == (principal.username if f.assignee == "me" else f.assignee))
    if f.text:
        where.append(_text_condition(f.text))
    if f.group:
        members = (
            select(AlertGroupMember.alert_id)
            .join(AlertGroup, AlertGroup.id == AlertGroupMember.group_id)
            .where(AlertGroup.public_id == f.group)
        )
        where.append(Alert.id.in_(members))
    return where


def _text_condition(text: str) -> ColumnElement[bool]:
    words = text.strip()[:200]
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    columns: list[InstrumentedAttribute[Any]] = [Alert.rule_title, Alert.host, Alert.user_name]
    return or_(
        *(func.lower(c).like(like.lower(), escape="\\") for c in columns),
        Alert.source_ip.like(like, escape="\\"),
        Alert.id == words,
        Alert.id.like(escaped + "%", escape="\\") if len(words) >= 8 else Alert.id == words,
        Alert.rule_id == words,
    )


def _level_rank() -> ColumnElement[int]:
    return case({lv: i for i, lv in enumerate(LEVELS)}, value=Alert.level, else_=len(LEVELS))


def _sort_columns(sort: str) -> list[tuple[Any, bool]]:
    """(expression, descending) for each sort key; the id always breaks ties."""
    if sort == "oldest":
        return [(Alert.created_at, False), (Alert.id, False)]
    if sort == "severity":
        return [(_level_rank(), False), (Alert.created_at, True), (Alert.id, True)]
    if sort == "count":
        return [(Alert.count, True), (Alert.created_at, True), (Alert.id, True)]
    return [(Alert.created_at, True), (Alert.id, True)]


def _key_of(alert: Alert, sort: str) -> list[Any]:
    if sort in ("newest", "oldest"):
        return [alert.created_at.isoformat(), alert.id]
    if sort == "severity":
        rank = LEVELS.index(alert.level) if alert.level in LEVELS else len(LEVELS)
        return [rank, alert.created_at.isoformat(), alert.id]
    return [alert.count, alert.created_at.isoformat(), alert.id]


def encode_cursor(alert: Alert, sort: str) -> str:
    raw = orjson.dumps([sort, *_key_of(alert, sort)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise Invalid("the page cursor is damaged; start from the first page") from None
    if not isinstance(data, list) or not data or data[0] != sort:
        raise Invalid("the page cursor belongs to another sort order; start from the first page")
    values = data[1:]
    expected = 2 if sort in ("newest", "oldest") else 3
    if len(values) != expected:
        raise Invalid("the page cursor is damaged; start from the first page")
    try:
        out: list[Any] = []
        for i, v in enumerate(values):
            if i == len(values) - 1:
                out.append(str(v))
            elif i == len(values) - 2:
                out.append(datetime.fromisoformat(str(v)))
            else:
                out.append(int(v))
    except (TypeError, ValueError):
        raise Invalid("the page cursor is damaged; start from the first page") from None
    return out


def _after(sort: str, key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `key` in the sort order, written so an index range can serve the
    leading column (`col <= x AND (col < x OR …)`)."""
    cols = _sort_columns(sort)

    def beyond(i: int) -> ColumnElement[bool]:
        expr, desc = cols[i]
        strict: ColumnElement[bool] = expr < key[i] if desc else expr > key[i]
        if i == len(cols) - 1:
            return strict
        loose = expr <= key[i] if desc else expr >= key[i]
        return and_(loose, or_(strict, beyond(i + 1)))

    return beyond(0)


def page(
    session: Session,
    principal: Principal,
    f: AlertFilter,
    *,
    sort: str = "newest",
    cursor: str | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """One page of alerts in `sort` order, after `cursor` (from the previous page's next_cursor)."""
    if sort not in SORTS:
        raise Invalid(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    size = max(1, min(size, MAX_PAGE_SIZE))
    where = conditions(session, principal, f)
    if cursor:
        where.append(_after(sort, decode_cursor(cursor, sort)))
    order = [expr.desc() if desc else expr.asc() for expr, desc in _sort_columns(sort)]
    split = _split(principal, f) if sort in ("newest", "oldest") else None
    if split is None and sort in ("severity", "count"):
        # Ids first (an index can cover the sort keys), then only those rows: never sort whole rows.
        ids = list(session.scalars(select(Alert.id).where(*where).order_by(*order).limit(size + 1)))
        by_id = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(ids)))}
        rows = [by_id[i] for i in ids if i in by_id]
    elif split is None:
        rows = list(session.scalars(select(Alert).where(*where).order_by(*order).limit(size + 1)))
    else:
        column, values = split
        parts = [
            session.scalars(select(Alert).where(*where, column == v).order_by(*order).limit(size + 1)).all()
            for v in values
        ]
        descending = sort == "newest"
        rows = list(heapq.merge(*parts, key=lambda a: (a.created_at, a.id), reverse=descending))[: size + 1]
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode_cursor(rows[-1], sort) if more and rows else None)


def _split(principal: Principal, f: AlertFilter) -> tuple[InstrumentedAttribute[Any], list[Any]] | None:
    """Which indexed column to read as one ordered range per value, if any."""
    if f.rule:
        return None  # rule_id = ? is already one ordered range
    agencies = principal.allowed(f.agency)
    if agencies is not None and 0 < len(agencies) <= MAX_SPLIT:
        return Alert.agency, sorted(agencies)
    # Every status when none is asked for: still one (status, created_at) range each, never a sort
    # of the whole table.
    return Alert.status, list(f.status or STATUSES)


def grouped(
    session: Session, principal: Principal, f: AlertFilter, by: str = "rule", limit: int = 200
) -> list[GroupRow]:
    """Counts per rule, agency or host for the filter, biggest groups first."""
    if by not in GROUP_BY:
        raise Invalid(f"unknown grouping {by!r}; use one of {', '.join(GROUP_BY)}")
    # Grouping by `column || ''` keeps planners from walking the (rule_id|agency, created_at) index
    # just to group in order, which costs one row read per alert; only columns an index can cover
    # are read (see docs/benchmarks.md), and rule titles are looked up afterwards.
    key = GROUP_BY[by].op("||")(literal(""))
    query = (
        select(key, func.count(), func.sum(Alert.count), func.min(_level_rank()), func.max(Alert.created_at))
        .where(*conditions(session, principal, f))
        .group_by(key)
        .order_by(func.count().desc(), key)
        .limit(limit)
    )  # fmt: skip
    found = session.execute(query).all()
    titles = _rule_titles(session, [str(key) for key, *_ in found]) if by == "rule" else {}
    out = []
    for key, n, events, rank, last in found:
        level = LEVELS[rank] if rank is not None and rank < len(LEVELS) else "medium"
        last_at = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
        if last_at.tzinfo is None:
            last_at = last_at.replace(tzinfo=UTC)
        label = titles.get(str(key)) or (key if key is not None else "")
        out.append(GroupRow(key, str(label), n, int(events or 0), level, last_at))
    return out


def _rule_titles(session: Session, rule_ids: list[str]) -> dict[str, str]:
    """Each rule's title from its newest alert (one index probe per rule)."""
    titles: dict[str, str] = {}
    for rule_id in rule_ids:
        title = session.scalar(
            select(Alert.rule_title)
            .where(Alert.rule_id == rule_id)
            .order_by(Alert.created_at.desc())
            .limit(1)
        )
        titles[rule_id] = title or rule_id
    return titles


def count(session: Session, principal: Principal, f: AlertFilter) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Alert).where(*conditions(session, principal, f))) or 0
    )


def all_ids(session: Session, principal: Principal, f: AlertFilter, limit: int) -> list[str]:
    """Ids of every alert matching (for "act on the whole group"), at most `limit`."""
    query = select(Alert.id).where(*conditions(session, principal, f)).order_by(Alert.id).limit(limit + 1)
    return list(session.scalars(query))


def as_params(f: AlertFilter) -> list[tuple[str, str]]:
    """The filter as query parameters (for links that keep it)."""
    out: list[tuple[str, str]] = []
    if f.status != OPEN:
        out += [("status", s) for s in f.status] or [("status", "all")]
    out += [("level", lv) for lv in f.level] + [("agency", a) for a in f.agency]
    for name, value in (("rule", f.rule), ("assignee", f.assignee), ("q", f.text), ("group", f.group)):
        if value:
            out.append((name, value))
    if f.host is not None:
        out.append(("host", f.host))
    for name, at in (("since", f.since), ("until", f.until)):
        if at is not None:
            out.append((name, at.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")))
    return out
