"""Page rendering: one Jinja environment, the layout's context (language, user, navigation, CSRF
token) and filters that show times in the service's zone (Asia/Ho_Chi_Minh by default)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from soc.i18n import pick_lang, t, texts
from soc.triage.principal import Principal
from soc.web import texts as _web_texts  # noqa: F401 - registers the web app's messages
from soc.web.auth import identify

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
LANG_COOKIE = "soc_lang"

NAV = (
    ("/dashboard", "nav.dashboard", "dashboard.read"),
    ("/alerts", "nav.alerts", "alerts.read"),
    ("/events", "nav.events", "events.read"),
    ("/incidents", "nav.incidents", "incidents.read"),
    ("/rules", "nav.rules", "rules.read"),
    ("/collectors", "nav.collectors", "collectors.read"),
    ("/oncall", "nav.oncall", "oncall.read"),
    ("/dossiers", "nav.dossiers", "dossiers.read"),
    ("/audit", "nav.audit", "audit.read"),
)


def lang_of(request: Request) -> str:
    """?lang= wins, then the language cookie, then the user's saved choice, then the browser."""
    explicit = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    principal = identify(request)
    default = principal.locale if principal else request.app.state.settings.lang
    if explicit not in ("en", "vi") and principal is not None:
        return principal.locale
    return pick_lang(explicit, request.headers.get("accept-language"), default)


def zone_of(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def local_time(value: datetime | None, zone: ZoneInfo, fmt: str = "%d/%m/%Y %H:%M:%S") -> str:
    """`27/11/2026 22:40:01 +07:00` — the offset is always shown so nobody guesses the zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local.strftime(fmt)} {offset[:3]}:{offset[3:]}"


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    principal: Principal | None = identify(request)
    zone = zone_of(request)

    def tr(key: str, **values: Any) -> str:
        return t(key, lang, **values)

    def when(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M:%S") -> str:
        return local_time(value, zone, fmt)

    base: dict[str, Any] = {
        "lang": lang,
        "t": texts(lang),
        "tr": tr,
        "when": when,
        "me": principal,
        "csrf": getattr(request.state, "csrf", None) or "",
        "nav": [(href, t(key, lang)) for href, key, perm in NAV if principal and principal.can(perm)],
        "path": request.url.path,
        "zone": str(zone),
    }
    headers = {"Cache-Control": "no-store"}
    return TEMPLATES.TemplateResponse(
        request, template, base | context, status_code=status_code, headers=headers
    )
