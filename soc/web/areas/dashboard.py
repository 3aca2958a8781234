"""Dashboard: alerts over time by severity, top rules, alerts per agency, mean time to acknowledge
and to resolve, open alerts by status, and for dossier readers the security-level dossier status
("approved X of Y" per agency, overdue) — the page /dashboard (server-side SVG charts), the numbers
as JSON under /api/v1/dashboard, and the alerts-over-time chart of the alert list as an SVG."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel

from soc.db.accounts import list_agencies
from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.detect.model import LEVELS
from soc.i18n import t
from soc.triage import dashboard as service
from soc.triage.principal import Principal
from soc.web import charts
from soc.web.auth import reader
from soc.web.render import lang_of, local_time, page

router = APIRouter()
RangeKey = Literal["24h", "7d", "30d"]
SEVERE_FIRST = tuple(reversed(LEVELS))
"""Legend and table order; bars stack the other way (informational at the bottom)."""


class BucketOut(BaseModel):
    start: datetime
    counts: dict[str, int]
    """Alerts per level in this bar."""


class RuleCount(BaseModel):
    rule_id: str
    title: str
    alerts: int


class AgencyCount(BaseModel):
    agency: str
    name: str
    alerts: int


class TimesOut(BaseModel):
    mtta_seconds: float | None
    """Mean time from an alert's creation to its first acknowledgement."""
    acknowledged: int
    mttr_seconds: float | None
    """Mean time from an alert's creation to its closing."""
    resolved: int


class AgencyDossiersOut(BaseModel):
    agency: str
    name: str
    approved: int
    total: int
    overdue: int


class DossierStatusOut(BaseModel):
    approved: int
    """Current dossiers (each system's newest, not withdrawn) in an approved state."""
    total: int
    overdue: int
    """Dossiers with a missed deadline."""
    per_agency: list[AgencyDossiersOut]


class DashboardOut(BaseModel):
    range: str
    start: datetime
    end: datetime
    bucket: str
    total: int
    over_time: list[BucketOut]
    top_rules: list[RuleCount]
    per_agency: list[AgencyCount]
    times: TimesOut
    open_by_status: dict[str, int]
    dossiers: DossierStatusOut | None = None
    """Security-level dossiers you may see; only with the dossiers.read permission."""


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _load(request: Request, principal: Principal, range_key: str, agency: str | None) -> service.Dashboard:
    with session_scope(request.app.state.db) as s:
        return service.dashboard(
            s,
            principal,
            range_key=range_key,
            now=utcnow(),
            zone=_zone(request),
            agencies=[agency] if agency else [],
        )


def _dossiers(request: Request, principal: Principal) -> service.DossierStatus | None:
    with session_scope(request.app.state.db) as s:
        return service.dossier_status(s, principal, request.app.state.dossiers, utcnow())


def _dossiers_out(found: service.DossierStatus | None) -> DossierStatusOut | None:
    if found is None:
        return None
    return DossierStatusOut(
        approved=found.approved, total=found.total, overdue=found.overdue,
        per_agency=[AgencyDossiersOut(agency=a.code, name=a.name, approved=a.approved, total=a.total,
                                      overdue=a.overdue) for a in found.per_agency],
    )  # fmt: skip


def _short(name: str, most: int = 18) -> str:
    return name if len(name) <= most else name[: most - 1] + "…"


def dossiers_svg(found: service.DossierStatus, lang: str) -> str:
    """Approved and not yet approved dossiers per agency, stacked to the agency's total."""
    rows = found.per_agency
    series = [
        charts.Series("approved", t("dashboard.dossiers_approved", lang), "#1b7a3a",
                      [a.approved for a in rows]),
        charts.Series("pending", t("dashboard.dossiers_not_approved", lang), "#52606d",
                      [a.total - a.approved for a in rows]),
    ]  # fmt: skip
    per_agency = "; ".join(
        t("dashboard.dossiers_row", lang, name=a.name, approved=a.approved, total=a.total, overdue=a.overdue)
        for a in rows
    )
    desc = t("dashboard.dossiers_desc", lang, approved=found.approved, total=found.total,
             overdue=found.overdue, per_agency=per_agency or "—")  # fmt: skip
    return charts.stacked_bars(
        "c-dossiers", t("dashboard.dossiers_chart", lang), desc, [_short(a.name) for a in rows], series,
        width=max(360, min(1120, 110 * len(rows) + 60)), height=260, empty=t("dashboard.dossiers_none", lang),
    )  # fmt: skip


def _out(d: service.Dashboard, dossiers: service.DossierStatus | None = None) -> DashboardOut:
    chart = d.over_time
    return DashboardOut(
        range=d.range, start=d.start, end=d.end, bucket=chart.bucket, total=d.total,
        over_time=[BucketOut(start=at, counts={lv: chart.counts[lv][i] for lv in SEVERE_FIRST})
                   for i, at in enumerate(chart.starts)],
        top_rules=[RuleCount(rule_id=r, title=title, alerts=n) for r, title, n in d.top_rules],
        per_agency=[AgencyCount(agency=a, name=name, alerts=n) for a, name, n in d.per_agency],
        times=TimesOut(**d.times.__dict__), open_by_status=d.open_by_status, dossiers=_dossiers_out(dossiers),
    )  # fmt: skip


def _labels(chart: service.OverTime, zone: ZoneInfo) -> list[str]:
    fmt = "%H:%M" if chart.bucket == "hour" else "%d/%m"
    return [at.astimezone(zone).strftime(fmt) for at in chart.starts]


def over_time_svg(chart: service.OverTime, lang: str, zone: ZoneInfo, chart_id: str, **size: int) -> str:
    series = [
        charts.Series(lv, t(f"dashboard.level_{lv}", lang), charts.LEVEL_COLOURS[lv], chart.counts[lv])
        for lv in LEVELS
    ]
    total = sum(chart.totals)
    span = ""
    if chart.starts:
        first, last = (local_time(at, zone, "%d/%m/%Y %H:%M") for at in (chart.starts[0], chart.starts[-1]))
        span = f"{first} – {last}"
    per_level = ", ".join(f"{s.label}: {sum(s.values)}" for s in reversed(series) if sum(s.values))
    desc = t("dashboard.over_time_desc", lang, total=total, span=span, per_level=per_level or "0",
             bucket=t(f"dashboard.bucket_{chart.bucket}", lang))  # fmt: skip
    return charts.stacked_bars(
        chart_id, t("dashboard.over_time", lang), desc, _labels(chart, zone), series,
        empty=t("dashboard.no_alerts", lang), **size,
    )  # fmt: skip


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(
    request: Request,
    principal: Annotated[Principal, Depends(reader("dashboard.read"))],
    range: RangeKey = "24h",
    agency: str | None = None,
) -> HTMLResponse:
    d = _load(request, principal, range, agency)
    dossiers = _dossiers(request, principal)
    lang, zone = lang_of(request), _zone(request)
    with session_scope(request.app.state.db) as s:
        agencies = [(a.code, a.name) for a in list_agencies(s) if principal.sees(a.code)]
    level_names = {lv: t(f"dashboard.level_{lv}", lang) for lv in LEVELS}
    status_names = {st: t(f"dashboard.status_{st}", lang) for st in service.OPEN_STATUSES}
    svgs = {
        "over_time": over_time_svg(d.over_time, lang, zone, "c-time", width=1120, height=300),
        "top_rules": charts.horizontal_bars(
            "c-rules", t("dashboard.top_rules", lang), t("dashboard.top_rules_desc", lang),
            [(title, n) for _, title, n in d.top_rules], empty=t("dashboard.no_alerts", lang),
        ),
        "per_agency": charts.horizontal_bars(
            "c-agency", t("dashboard.per_agency", lang), t("dashboard.per_agency_desc", lang),
            [(name, n) for _, name, n in d.per_agency], colour="#334e68",
            empty=t("dashboard.no_alerts", lang),
        ),
        "open": charts.horizontal_bars(
            "c-open", t("dashboard.open_by_status", lang), t("dashboard.open_by_status_desc", lang),
            [(status_names[st], n) for st, n in d.open_by_status.items()], colour="#8a5a00",
        ),
    }  # fmt: skip
    if dossiers is not None:
        svgs["dossiers"] = dossiers_svg(dossiers, lang)
    safe = {k: Markup(v) for k, v in svgs.items()}  # noqa: S704 - charts.py escapes every text it draws
    return page(
        request, "pages/dashboard_overview.html", d=d, svg=safe, dossiers=dossiers,
        ranges=list(service.RANGES), agencies=agencies, agency=agency or "",
        labels=_labels(d.over_time, zone),
        level_names=level_names, status_names=status_names, levels=SEVERE_FIRST,
        dur=partial(charts.duration, lang=lang),
    )  # fmt: skip


@router.get("/api/v1/dashboard", tags=["dashboard"])
def dashboard_api(
    request: Request,
    principal: Annotated[Principal, Depends(reader("dashboard.read"))],
    range: Annotated[
        RangeKey, Query(description="Time range: 24h (hourly bars), 7d or 30d (daily).")
    ] = "24h",
    agency: Annotated[str | None, Query(description="Only this agency (code).")] = None,
) -> DashboardOut:
    """The dashboard's numbers for your agencies: alerts over time by severity, top rules, alerts
    per agency, mean time to acknowledge and to resolve, open alerts by status; with dossiers.read,
    the security-level dossiers you may see ("approved X of Y", per agency, overdue)."""
    return _out(_load(request, principal, range, agency), _dossiers(request, principal))


@router.get("/dashboard/charts/alerts-over-time.svg", response_class=Response, include_in_schema=False)
def alerts_over_time_svg(
    request: Request, principal: Annotated[Principal, Depends(reader("alerts.read"))]
) -> Response:
    """Alerts over time by severity as a small SVG, for the alert list's filters (the same query
    parameters as /alerts, read by the same code)."""
    params = {key: request.query_params.getlist(key) for key in request.query_params}
    zone = _zone(request)
    with session_scope(request.app.state.db) as s:
        chart, _, _ = service.list_chart(s, principal, params, utcnow(), zone)
    # The alert list shows it at 1200 × 120: the same shape, so nothing is letterboxed.
    svg = over_time_svg(chart, lang_of(request), zone, "alerts-time", width=1200, height=120)
    headers = {"Cache-Control": "private, max-age=30"}
    return Response(svg, media_type="image/svg+xml", headers=headers)
