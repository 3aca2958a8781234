"""Events: search with a timeline, CSV export, and the pivot from an alert (pages and JSON API).

Thin: soc.triage.events builds the query and scopes every read to the principal's agencies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel

from soc.db import accounts
from soc.db.session import session_scope
from soc.i18n import t
from soc.store.base import EventStore
from soc.triage import events as svc
from soc.triage.principal import Principal
from soc.web.auth import reader
from soc.web.render import lang_of, page, zone_of

router = APIRouter()
PAGE_SIZE = 50
Reader = Annotated[Principal, Depends(reader("events.read"))]


@dataclass(frozen=True)
class Params:
    """The search form as sent (kept raw to fill the form again)."""

    q: str | None = None
    start: str | None = None
    end: str | None = None
    agency: tuple[str, ...] = ()
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    dataset: str | None = None
    outcome: str | None = None
    f: tuple[str, ...] = ()

    def to_filter(self, zone: ZoneInfo) -> svc.EventFilter:
        shortcuts = {"host": self.host, "user": self.user, "source_ip": self.source_ip,
                     "dataset": self.dataset, "outcome": self.outcome}  # fmt: skip
        return svc.make_filter(
            zone=zone, text=self.q, start=self.start, end=self.end, agencies=self.agency,
            conditions=self.f, shortcuts=shortcuts,
        )  # fmt: skip


def params(
    q: Annotated[
        str | None, Query(max_length=200, description="Text in `message` (case-insensitive)")
    ] = None,
    start: Annotated[
        str | None,
        Query(alias="from", max_length=40, description="@timestamp from; ISO 8601, local if no offset"),
    ] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description="@timestamp before")] = None,
    agency: Annotated[list[str] | None, Query(description="Agency codes (organization.id)")] = None,
    host: Annotated[str | None, Query(max_length=200, description="host.name")] = None,
    user: Annotated[str | None, Query(max_length=200, description="user.name")] = None,
    source_ip: Annotated[str | None, Query(max_length=100, description="source.ip (or a network)")] = None,
    dataset: Annotated[str | None, Query(max_length=200, description="event.dataset")] = None,
    outcome: Annotated[str | None, Query(max_length=50, description="event.outcome")] = None,
    f: Annotated[list[str] | None, Query(description="field=value or field!=value, repeatable")] = None,
) -> Params:
    return Params(q, start, end, tuple(agency or ()), host, user, source_ip, dataset, outcome, tuple(f or ()))


Filters = Annotated[Params, Depends(params)]


# ---- JSON API -------------------------------------------------------------------------------


class EventOut(BaseModel):
    id: str
    index: str
    timestamp: str | None
    agency: str | None
    dataset: str | None
    host: str | None
    user: str | None
    source_ip: str | None
    outcome: str | None
    message: str
    matched: bool
    source: dict[str, Any]


class EventsOut(BaseModel):
    total: int
    events: list[EventOut]
    next: str | None
    """Pass as `after` for the next page; null on the last page."""


class BucketOut(BaseModel):
    start: datetime
    end: datetime
    count: int


class TimelineOut(BaseModel):
    step_seconds: int
    total: int
    buckets: list[BucketOut]


class PivotOut(EventsOut):
    alert_id: str
    agency: str | None
    by: str
    field: str
    value: str
    minutes: int
    start: datetime
    end: datetime
    matched_ids: list[str]


@router.get("/api/v1/events", tags=["events"])
def api_search(
    request: Request,
    principal: Reader,
    filters: Filters,
    size: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=200, description="`next` of the previous page")] = None,
) -> EventsOut:
    store = _store(request)
    f = filters.to_filter(zone_of(request))
    found = svc.search(store, principal, f, size=size, after=after)
    return EventsOut(
        total=svc.count(store, principal, f), events=[_out(r) for r in found.rows], next=found.next
    )


@router.get("/api/v1/events/timeline", tags=["events"])
def api_timeline(request: Request, principal: Reader, filters: Filters) -> TimelineOut:
    zone = zone_of(request)
    tl = svc.timeline(_store(request), principal, filters.to_filter(zone), zone)
    return TimelineOut(
        step_seconds=int(tl.step.total_seconds()), total=tl.total,
        buckets=[BucketOut(start=b.start, end=b.end, count=b.count) for b in tl.buckets],
    )  # fmt: skip


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, streamed"}
}


@router.get("/api/v1/events/export.csv", tags=["events"], response_class=Response, responses=CSV_RESPONSE)
def api_export(request: Request, principal: Reader, filters: Filters) -> Response:
    return _export(request, principal, filters)


@router.get("/api/v1/alerts/{alert_id}/pivot", tags=["events"])
def api_pivot(
    request: Request,
    principal: Reader,
    alert_id: str,
    by: Literal["host", "user", "source_ip"] = "host",
    minutes: Annotated[int, Query(ge=1, le=svc.MAX_PIVOT_MINUTES)] = 15,
    size: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> PivotOut:
    store = _store(request)
    with session_scope(request.app.state.db) as session:
        p = svc.pivot(session, principal, alert_id, by=by, minutes=minutes)
        agency = p.alert.agency
    found = svc.search(store, principal, p.filter, size=size, after=after, highlight=p.matched)
    cond = p.filter.conditions[0]
    assert p.filter.start is not None
    assert p.filter.end is not None
    return PivotOut(
        total=svc.count(store, principal, p.filter), events=[_out(r) for r in found.rows], next=found.next,
        alert_id=alert_id, agency=agency, by=by, field=cond.field, value=cond.value, minutes=minutes,
        start=p.filter.start, end=p.filter.end, matched_ids=sorted(p.matched),
    )  # fmt: skip


# ---- pages ----------------------------------------------------------------------------------


@router.get("/events", response_class=HTMLResponse, include_in_schema=False)
def events_page(
    request: Request,
    principal: Reader,
    filters: Filters,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    zone = zone_of(request)
    context: dict[str, Any] = {"form": filters, "agencies": _agencies(request, principal)}
    try:
        f = filters.to_filter(zone)
        context |= _results(request, principal, f, after=after)
    except svc.FilterError as exc:
        context["error"] = t(exc.key, lang_of(request), **exc.values)
        return page(request, "pages/events_search.html", 400, **context)
    query = _query_without(request, "after")
    context["export_url"] = "/events/export.csv" + (f"?{query}" if query else "")
    context["first_url"] = "/events" + (f"?{query}" if query else "") if after else None
    return page(request, "pages/events_search.html", **context)


@router.get("/events/export.csv", include_in_schema=False)
def export_page(request: Request, principal: Reader, filters: Filters) -> Response:
    return _export(request, principal, filters)


@router.get("/events/pivot", response_class=HTMLResponse, include_in_schema=False)
def pivot_page(
    request: Request,
    principal: Reader,
    alert: Annotated[str, Query(max_length=100)],
    by: Annotated[str, Query(max_length=20)] = "host",
    minutes: Annotated[int, Query(ge=1, le=svc.MAX_PIVOT_MINUTES)] = 15,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    zone = zone_of(request)
    with session_scope(request.app.state.db) as session:
        try:
            p = svc.pivot(session, principal, alert, by=by, minutes=minutes)
        except svc.FilterError as exc:
            return page(request, "error.html", 400, message=t(exc.key, lang_of(request), **exc.values))
        info = {
            "id": p.alert.id, "title": p.alert.rule_title, "level": p.alert.level, "agency": p.alert.agency,
            "host": p.alert.host, "user": p.alert.user_name, "source_ip": p.alert.source_ip,
            "first_at": p.alert.first_at, "last_at": p.alert.last_at,
        }  # fmt: skip
    context = _results(request, principal, p.filter, after=after, highlight=p.matched)
    cond = p.filter.conditions[0]
    search_query = urlencode(
        [
            ("f", str(cond)),
            ("from", _local_input(p.filter.start, zone)),
            ("to", _local_input(p.filter.end, zone)),
        ]
        + [("agency", a) for a in p.filter.agencies]
    )
    query = _query_without(request, "after")
    return page(
        request, "pages/events_pivot.html", alert=info, by=by, minutes=minutes, cond=cond,
        start=p.filter.start, end=p.filter.end, search_url=f"/events?{search_query}",
        first_url=f"/events/pivot?{query}" if after else None, **context,
    )  # fmt: skip


# ---- helpers --------------------------------------------------------------------------------


def _results(
    request: Request,
    principal: Principal,
    f: svc.EventFilter,
    *,
    after: str | None,
    highlight: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    store, zone, lang = _store(request), zone_of(request), lang_of(request)
    found = svc.search(store, principal, f, size=PAGE_SIZE, after=after, highlight=highlight)
    tl = svc.timeline(store, principal, f, zone)
    next_url = None
    if found.next:
        query = _query_without(request, "after")
        next_url = f"{request.url.path}?{query}{'&' if query else ''}{urlencode({'after': found.next})}"
    return {
        "rows": found.rows, "next_url": next_url, "timeline": tl, "total": tl.total,
        "bars": _bars(tl, zone), "step": _step_label(tl.step, lang), "agency_names": _names(request),
    }  # fmt: skip


def _export(request: Request, principal: Principal, filters: Params) -> Response:
    zone = zone_of(request)
    f = filters.to_filter(zone)  # a bad filter is a 400 before anything is streamed
    note = t("events.export_truncated", lang_of(request), cap=svc.EXPORT_CAP)
    lines = svc.csv_lines(_store(request), principal, f, zone, truncated_note=note)

    def body() -> Iterator[bytes]:
        yield "\ufeff".encode()  # spreadsheet programs then read the Vietnamese text as UTF-8
        for line in lines:
            yield line.encode()

    name = f"events-{datetime.now(UTC).astimezone(zone):%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


CHART_W, CHART_H = 760.0, 120.0


def _bars(tl: svc.Timeline, zone: ZoneInfo) -> list[Bar]:
    if not tl.buckets:
        return []
    width = CHART_W / len(tl.buckets)
    peak = max(tl.peak, 1)
    fmt = "%d/%m %H:%M" if tl.step < timedelta(days=1) else "%d/%m/%Y"
    bars = []
    for i, b in enumerate(tl.buckets):
        h = CHART_H * b.count / peak
        label = b.start.astimezone(zone).strftime(fmt)
        bars.append(Bar(i * width, CHART_H - h, max(width - 1, 1), h, b.count, label))
    return bars


def _step_label(step: timedelta, lang: str) -> str:
    minutes = int(step.total_seconds() // 60)
    if minutes < 60:
        return t("events.minutes", lang, n=minutes)
    if minutes < 1440:
        return t("events.hours", lang, n=minutes // 60)
    return t("events.days", lang, n=minutes // 1440)


def _out(r: svc.EventRow) -> EventOut:
    return EventOut(
        id=r.id, index=r.index, timestamp=r.source.get("@timestamp") and str(r.source["@timestamp"]),
        agency=r.agency, dataset=r.dataset, host=r.host, user=r.user, source_ip=r.source_ip,
        outcome=r.outcome, message=r.text, matched=r.highlighted, source=r.source,
    )  # fmt: skip


def _store(request: Request) -> EventStore:
    store: EventStore = request.app.state.store
    return store


def _names(request: Request) -> dict[str, str]:
    with session_scope(request.app.state.db) as session:
        return {a.code: a.name for a in accounts.list_agencies(session)}


def _agencies(request: Request, principal: Principal) -> list[tuple[str, str]]:
    return sorted((code, name) for code, name in _names(request).items() if principal.sees(code))


def _query_without(request: Request, *names: str) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in names and v])


def _local_input(at: datetime | None, zone: ZoneInfo) -> str:
    return "" if at is None else at.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")
