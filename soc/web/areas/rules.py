"""Rules: health list, detail (Sigma source, converted query, runs, gaps), enable / disable /
run now / backfill — pages under /rules and the same as JSON under /api/v1/rules."""

from __future__ import annotations

import threading
from datetime import datetime
from functools import partial
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.triage import rules as service
from soc.triage.principal import Principal
from soc.web.auth import reader, writer
from soc.web.charts import duration
from soc.web.render import lang_of, page

router = APIRouter()
ID_MAX = 2**62
_loading = threading.Lock()
MESSAGES = ("enabled", "disabled", "ran", "backfilled")


def catalog(request: Request) -> service.Catalog:
    """The rules as `soc serve` loads them, loaded once per app."""
    state = request.app.state
    found: service.Catalog | None = getattr(state, "rule_catalog", None)
    if found is None:
        with _loading:
            found = getattr(state, "rule_catalog", None)
            if found is None:
                found = service.Catalog.load(state.settings, state.store, state.db)
                state.rule_catalog = found
    return found


class RuleOut(BaseModel):
    id: str
    title: str
    level: str
    state: str
    """enabled, disabled, paused (after repeated failures) or missing (rule file gone)."""
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

    @classmethod
    def of(cls, h: service.RuleHealth) -> RuleOut:
        return cls(state=h.state, **{k: getattr(h, k) for k in cls.model_fields if k != "state"})


class RunOut(BaseModel):
    id: int
    window_start: datetime
    window_end: datetime
    started_at: datetime
    duration_ms: int
    findings: int
    alerts_created: int
    lag_seconds: int
    backfill: bool
    error: str | None
    runner: str


class GapOut(BaseModel):
    id: int
    start_at: datetime
    end_at: datetime
    reason: str
    created_at: datetime
    backfilled_at: datetime | None


class RuleDetailOut(RuleOut):
    path: str
    description: str
    tags: list[str]
    datasets: list[str] | None
    source: str
    """The Sigma YAML."""
    backend: str
    query: str
    """The converted query for the configured store backend."""
    runs: list[RunOut]
    gaps: list[GapOut]


class RunReportOut(BaseModel):
    rule_id: str
    windows: int
    alerts: int
    skipped: str | None
    error: str | None


class BackfillOut(BaseModel):
    rule_id: str
    gap_id: int
    alerts: int


class DisableIn(BaseModel):
    reason: str


class RulesOut(BaseModel):
    rules: list[RuleOut]
    problems: list[str]
    """Rule files that failed to load (the scheduler refuses to start with them)."""


def _detail(request: Request, principal: Principal, rule_id: str) -> RuleDetailOut:
    cat = catalog(request)
    rule = cat.rule(rule_id)
    with session_scope(request.app.state.db) as s:
        h = service.one(s, principal, cat, rule_id, utcnow())
        runs = [RunOut.model_validate(r, from_attributes=True) for r in service.runs(s, principal, rule_id)]
        gaps = [GapOut.model_validate(g, from_attributes=True) for g in service.gaps(s, principal, rule_id)]
    return RuleDetailOut(
        **RuleOut.of(h).model_dump(), path=_shown_path(request, rule.path), description=rule.description,
        tags=list(rule.tags),
        datasets=list(rule.datasets) if rule.datasets is not None else None, source=rule.source,
        backend=cat.backend, query=service.converted(cat, rule_id), runs=runs, gaps=gaps,
    )  # fmt: skip


# -- pages -----------------------------------------------------------------------------------


@router.get("/rules", response_class=HTMLResponse, include_in_schema=False)
def rules_page(
    request: Request, principal: Annotated[Principal, Depends(reader("rules.read"))]
) -> HTMLResponse:
    cat = catalog(request)
    with session_scope(request.app.state.db) as s:
        rows = service.health(s, principal, cat, utcnow())
    return page(
        request,
        "pages/rules_list.html",
        rules=rows,
        problems=cat.problems,
        dur=partial(duration, lang=lang_of(request)),
    )


@router.get("/rules/{rule_id}", response_class=HTMLResponse, include_in_schema=False)
def rule_page(
    request: Request, rule_id: str, principal: Annotated[Principal, Depends(reader("rules.read"))]
) -> HTMLResponse:
    detail = _detail(request, principal, rule_id)
    msg = request.query_params.get("msg")
    return page(
        request, "pages/rules_detail.html", rule=detail, msg=msg if msg in MESSAGES else None,
        params=request.query_params, can_manage=principal.can("rules.manage"),
        dur=partial(duration, lang=lang_of(request)),
    )  # fmt: skip


def _back(rule_id: str, msg: str, **values: object) -> RedirectResponse:
    query = urlencode({"msg": msg, **{k: str(v) for k, v in values.items() if v is not None}})
    return RedirectResponse(f"/rules/{rule_id}?{query}", status_code=303)


@router.post("/rules/{rule_id}/enable", include_in_schema=False)
def enable_form(
    request: Request, rule_id: str, principal: Annotated[Principal, Depends(writer("rules.manage"))]
) -> RedirectResponse:
    with session_scope(request.app.state.db) as s:
        service.set_enabled(s, principal, catalog(request), rule_id, True)
    return _back(rule_id, "enabled")


@router.post("/rules/{rule_id}/disable", include_in_schema=False)
def disable_form(
    request: Request,
    rule_id: str,
    principal: Annotated[Principal, Depends(writer("rules.manage"))],
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    with session_scope(request.app.state.db) as s:
        service.set_enabled(s, principal, catalog(request), rule_id, False, reason)
    return _back(rule_id, "disabled")


@router.post("/rules/{rule_id}/run", include_in_schema=False)
async def run_form(
    request: Request, rule_id: str, principal: Annotated[Principal, Depends(writer("rules.manage"))]
) -> RedirectResponse:
    cat = catalog(request)
    report = await run_in_threadpool(service.run_now, request.app.state.db, principal, cat, rule_id)
    return _back(rule_id, "ran", windows=report.windows, alerts=report.alerts, error=report.error,
                 skipped=report.skipped)  # fmt: skip


@router.post("/rules/{rule_id}/gaps/{gap_id}/backfill", include_in_schema=False)
async def backfill_form(
    request: Request,
    rule_id: str,
    gap_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    principal: Annotated[Principal, Depends(writer("rules.manage"))],
) -> RedirectResponse:
    cat = catalog(request)
    created = await run_in_threadpool(service.backfill, request.app.state.db, principal, cat, rule_id, gap_id)
    return _back(rule_id, "backfilled", alerts=created)


# -- API -------------------------------------------------------------------------------------


@router.get("/api/v1/rules", tags=["rules"])
def list_rules(request: Request, principal: Annotated[Principal, Depends(reader("rules.read"))]) -> RulesOut:
    """Every loaded rule with its health: state, last run, duration, hits (24 h), lag, errors, gaps."""
    cat = catalog(request)
    with session_scope(request.app.state.db) as s:
        rows = service.health(s, principal, cat, utcnow())
    return RulesOut(rules=[RuleOut.of(h) for h in rows], problems=cat.problems)


@router.get("/api/v1/rules/{rule_id}", tags=["rules"])
def get_rule(
    request: Request, rule_id: str, principal: Annotated[Principal, Depends(reader("rules.read"))]
) -> RuleDetailOut:
    """One rule: health, Sigma source, converted query, recent runs and gaps."""
    return _detail(request, principal, rule_id)


@router.post("/api/v1/rules/{rule_id}/enable", tags=["rules"])
def enable_rule(
    request: Request, rule_id: str, principal: Annotated[Principal, Depends(writer("rules.manage"))]
) -> RuleOut:
    """Enable the rule (also resumes a rule paused after repeated failures)."""
    with session_scope(request.app.state.db) as s:
        service.set_enabled(s, principal, catalog(request), rule_id, True)
    return RuleOut.of(_one(request, principal, rule_id))


@router.post("/api/v1/rules/{rule_id}/disable", tags=["rules"])
def disable_rule(
    request: Request,
    rule_id: str,
    body: DisableIn,
    principal: Annotated[Principal, Depends(writer("rules.manage"))],
) -> RuleOut:
    """Disable the rule with a reason (audited). Its watermark stays, so enabling catches up."""
    with session_scope(request.app.state.db) as s:
        service.set_enabled(s, principal, catalog(request), rule_id, False, body.reason)
    return RuleOut.of(_one(request, principal, rule_id))


@router.post("/api/v1/rules/{rule_id}/run", tags=["rules"])
async def run_rule(
    request: Request, rule_id: str, principal: Annotated[Principal, Depends(writer("rules.manage"))]
) -> RunReportOut:
    """Run one detection cycle of the rule now (the windows that are due), synchronously."""
    cat = catalog(request)
    report = await run_in_threadpool(service.run_now, request.app.state.db, principal, cat, rule_id)
    return RunReportOut(**report.__dict__)


@router.post("/api/v1/rules/{rule_id}/gaps/{gap_id}/backfill", tags=["rules"])
async def backfill_gap(
    request: Request,
    rule_id: str,
    gap_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    principal: Annotated[Principal, Depends(writer("rules.manage"))],
) -> BackfillOut:
    """Evaluate an open detection gap of the rule; alerts found are marked as backfilled."""
    cat = catalog(request)
    created = await run_in_threadpool(service.backfill, request.app.state.db, principal, cat, rule_id, gap_id)
    return BackfillOut(rule_id=rule_id, gap_id=gap_id, alerts=created)


def _one(request: Request, principal: Principal, rule_id: str) -> service.RuleHealth:
    with session_scope(request.app.state.db) as s:
        return service.one(s, principal, catalog(request), rule_id, utcnow())


def _shown_path(request: Request, path: FilePath) -> str:
    """The rule file relative to the rules folder (no need to show the server's layout)."""
    folder = FilePath(request.app.state.settings.resolved_rules_dir).resolve()
    try:
        return str(path.resolve().relative_to(folder))
    except ValueError:
        return path.name
