"""The FastAPI application: health, metrics, collector intake and a status page."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from soc import __version__
from soc.collect.ingest import IngestRefused, decode_body, ingest
from soc.db import accounts, tokens
from soc.db.detection import Alert
from soc.db.models import utcnow
from soc.db.session import make_engine, session_scope
from soc.dossiers import report as dossier_report
from soc.dossiers.service import DossierService
from soc.errors import StoreError
from soc.i18n import pick_lang, texts
from soc.metrics import Metrics
from soc.settings import Settings
from soc.store import EventStore, open_store
from soc.store.query import MatchAll
from soc.triage.principal import Principal
from soc.web import areas, errors
from soc.web.ack import router as ack_router
from soc.web.auth import identify, reader
from soc.web.guard import require_reader
from soc.web.limiter import LoginLimiter
from soc.web.login import router as login_router

log = logging.getLogger(__name__)
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def create_app(settings: Settings, *, store: EventStore | None = None, db: Engine | None = None) -> FastAPI:
    # The OpenAPI document is served behind sign-in (see `openapi` below), never publicly.
    app = FastAPI(
        title="SOC monitoring service API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        responses=ERROR_RESPONSES,
        description="Everything the analysts' web app does, as JSON. Authenticate with an API token "
        "(Authorization: Bearer soc_…) or a browser session plus the X-CSRF-Token header for writes.",
    )
    app.state.settings = settings
    app.state.store = store or open_store(settings)
    app.state.db = db or make_engine(settings.resolved_database_url)
    app.state.metrics = Metrics()
    app.state.dossiers = DossierService.from_settings(settings)
    app.state.login_limiter = LoginLimiter()
    errors.install(app)
    app.middleware("http")(_security_headers)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        checks: dict[str, Any] = {}
        ok = True
        try:
            with app.state.db.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = {"status": "ok"}
        except Exception as exc:
            ok = False
            log.error("health check: database unavailable: %s", exc)
            checks["database"] = {"status": "error", "error": type(exc).__name__}
        try:
            checks["store"] = app.state.store.health()
            ok = ok and checks["store"].get("status") in ("green", "yellow")
        except StoreError as exc:
            ok = False
            log.error("health check: event store unavailable: %s", exc)
            checks["store"] = {"status": "error", "error": type(exc).__name__}
        body = {"status": "ok" if ok else "error", "version": __version__, "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", dependencies=[Depends(require_reader)], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/v1/ingest")
    async def ingest_route(request: Request) -> JSONResponse:
        m: Metrics = app.state.metrics
        began = time.perf_counter()
        try:
            agency = await run_in_threadpool(_agency_of, app.state.db, request.headers.get("authorization"))
            body = await _read_limited(request, settings.ingest_max_body_bytes)
            body = decode_body(
                body, request.headers.get("content-encoding"), max_bytes=settings.ingest_max_body_bytes
            )
            m.ingest_bytes.inc(len(body))
            outcome = await run_in_threadpool(
                ingest, app.state.store, body, agency=agency, max_line_bytes=settings.ingest_max_line_bytes
            )
        except IngestRefused as exc:
            m.ingest_requests.labels(str(exc.status)).inc()
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)
        except StoreError as exc:
            log.error("ingest could not reach the event store: %s", exc)
            m.ingest_requests.labels("503").inc()
            return JSONResponse(
                {"error": "event store unavailable, retry later"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        m.ingest_requests.labels("200").inc()
        m.ingest_events.labels(agency, "created").inc(outcome.created)
        m.ingest_events.labels(agency, "duplicate").inc(outcome.duplicates)
        m.ingest_events.labels(agency, "rejected").inc(len(outcome.errors))
        m.ingest_events.labels(agency, "unparsed").inc(len(outcome.warnings))
        m.ingest_seconds.observe(time.perf_counter() - began)
        return JSONResponse(outcome.as_json())

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        principal = identify(request)
        if principal is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(landing(principal), status_code=303)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(_: Annotated[Principal, Depends(reader())]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(
        "/status",
        response_class=HTMLResponse,
        dependencies=[Depends(require_reader)],
        include_in_schema=False,
    )
    def index(request: Request) -> HTMLResponse:
        lang = pick_lang(
            request.query_params.get("lang"), request.headers.get("accept-language"), settings.lang
        )
        store: EventStore = app.state.store
        per_agency = store.group_counts(MatchAll(), ["organization.id", "event.dataset"], agencies=None)
        with session_scope(app.state.db) as session:
            names = {a.code: a.name for a in accounts.list_agencies(session)}
            alerts = _latest_alerts(session, names, ZoneInfo(settings.timezone))
        rows = sorted((names.get(str(a), str(a)), str(d), n) for (a, d), n in per_agency.items())
        context = {"t": texts(lang), "lang": lang, "rows": rows, "total": sum(n for *_, n in rows)}
        context["alerts"] = alerts
        with session_scope(app.state.db) as session:
            context["dossiers"] = dossier_report.status(session, app.state.dossiers, utcnow()).headline(lang)
        context["health"] = store.health()
        return TEMPLATES.TemplateResponse(request, "index.html", context)

    app.include_router(ack_router)
    app.include_router(login_router)
    for router in area_routers():
        app.include_router(router)
    return app


class ErrorBody(BaseModel):
    error: str


_ERRORS = {
    400: "malformed request or a rule of the domain broken (the reason is in `error`)",
    401: "no valid API token or session",
    403: "not allowed for your roles, or a missing CSRF token on a browser write",
    404: "no such object (or one of an agency you do not see)",
    409: "changed by someone else since you read it",
    413: "body too large",
    503: "a backing service (event store, database) is unavailable; retry later",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in _ERRORS.items()
}


def landing(principal: Principal) -> str:
    """Where a signed-in user starts: the alert list for SOC roles, dossiers for the others."""
    if principal.can("alerts.read"):
        return "/alerts"
    if principal.can("dossiers.read"):
        return "/dossiers"
    return "/api/v1/me"


def area_routers() -> list[APIRouter]:
    """Every area's router (pages and API). Each area lives in soc/web/areas/<name>.py and exports
    `router`; adding one needs no edit here."""
    found = []
    for module in sorted(pkgutil.iter_modules(areas.__path__), key=lambda m: m.name):
        found.append(importlib.import_module(f"{areas.__name__}.{module.name}").router)
    return found


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _latest_alerts(session: Session, names: dict[str, str], zone: ZoneInfo) -> list[dict[str, Any]]:
    latest = session.scalars(select(Alert).order_by(Alert.created_at.desc(), Alert.first_at.desc()).limit(20))
    return [
        {
            "level": a.level, "title": a.rule_title, "agency": names.get(a.agency or "", a.agency),
            "host": a.host, "count": a.count, "status": a.status,
            "at": a.first_at.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S %z"),
        }
        for a in latest
    ]  # fmt: skip


def _agency_of(db: Engine, authorization: str | None) -> str:
    scheme, _, raw = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise IngestRefused(401, "missing collector token (Authorization: Bearer <token>)")
    with session_scope(db) as session:
        info = tokens.verify(session, raw.strip())
        if info is None:
            raise IngestRefused(401, "unknown, revoked or expired token")
        if info.kind != "collector" or not info.agency_code:
            raise IngestRefused(403, "this token may not send events (a collector token is needed)")
        return info.agency_code


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise IngestRefused(
            413, f"body of {declared} bytes is over the limit of {limit}; send smaller batches"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestRefused(413, f"body is over the limit of {limit} bytes; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)
