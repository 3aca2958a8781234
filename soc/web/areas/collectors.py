"""Collectors and agencies: last seen, events per second, ingest lag and silent alarms — the page
/collectors and the same as JSON under /api/v1/collectors (agency officers see their own)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.triage import collectors as service
from soc.triage.principal import Principal
from soc.web.auth import reader
from soc.web.charts import duration
from soc.web.render import lang_of, page

router = APIRouter()


class LagOut(BaseModel):
    median_seconds: float | None
    max_seconds: float | None
    sampled: int


class AgencyOut(BaseModel):
    code: str
    name: str
    events_24h: int
    events_5m: int
    eps_5m: float
    open_alerts: int
    tokens: int
    hosts: int
    last_seen_at: datetime | None
    lag: LagOut
    silent: bool


class CollectorOut(BaseModel):
    agency: str
    name: str
    """The collector's host name (`agent.name` of its events)."""
    last_seen_at: datetime | None
    last_heartbeat_at: datetime | None
    events_5m: int
    events_60m: int
    eps_5m: float
    eps_60m: float
    lag: LagOut
    spool_bytes: int | None
    """Backlog waiting in the collector's disk spool, from its last heartbeat."""
    silent: bool


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    agency: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool
    silent: bool


class OverviewOut(BaseModel):
    now: datetime
    silent_after_seconds: int
    agencies: list[AgencyOut]
    collectors: list[CollectorOut]
    tokens: list[TokenOut]


def _out(o: service.Overview) -> OverviewOut:
    def lag(v: service.Lag) -> LagOut:
        return LagOut(**v.__dict__)

    return OverviewOut(
        now=o.now,
        silent_after_seconds=o.silent_after_seconds,
        agencies=[AgencyOut(**{**a.__dict__, "lag": lag(a.lag)}, eps_5m=a.eps_5m) for a in o.agencies],
        collectors=[
            CollectorOut(**{**c.__dict__, "lag": lag(c.lag)}, eps_5m=c.eps_5m, eps_60m=c.eps_60m)
            for c in o.collectors
        ],
        tokens=[TokenOut(**t.__dict__) for t in o.tokens],
    )


def _overview(request: Request, principal: Principal, agency: str | None) -> service.Overview:
    with session_scope(request.app.state.db) as s:
        return service.overview(
            s, request.app.state.store, principal, utcnow(), agency=agency or None,
            silent_after=timedelta(minutes=request.app.state.settings.collector_silent_minutes),
        )  # fmt: skip


@router.get("/collectors", response_class=HTMLResponse, include_in_schema=False)
def collectors_page(
    request: Request,
    principal: Annotated[Principal, Depends(reader("collectors.read"))],
    agency: str | None = None,
) -> HTMLResponse:
    data = _overview(request, principal, agency)
    return page(
        request,
        "pages/collectors_list.html",
        data=data,
        dur=partial(duration, lang=lang_of(request)),
        agency=agency or "",
    )


@router.get("/api/v1/collectors", tags=["collectors"])
def collectors_api(
    request: Request,
    principal: Annotated[Principal, Depends(reader("collectors.read"))],
    agency: Annotated[str | None, Query(description="Only this agency (code).")] = None,
) -> OverviewOut:
    """Agencies (events 24 h, open alerts, collectors, silent flag), collector hosts (last seen,
    events/s over 5 and 60 min, ingest lag) and collector tokens (last used)."""
    return _out(_overview(request, principal, agency))
