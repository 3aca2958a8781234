"""Acknowledge links from alert e-mails: GET shows a confirmation page and changes nothing (mail
scanners pre-fetch links); POST acknowledges. Every refusal is a page that says why, with a 4xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.i18n import pick_lang, t
from soc.notify import ackflow
from soc.notify.acktoken import AckRefused
from soc.notify.message import format_time
from soc.notify.service import NotifyService, for_settings

router = APIRouter()
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def notify_service(request: Request) -> NotifyService:
    svc = getattr(request.app.state, "notify", None)
    if svc is None:
        svc = request.app.state.notify = for_settings(request.app.state.settings)
    assert isinstance(svc, NotifyService)
    svc.reload_if_changed()  # ack timeouts come from the policy, which the editor may have changed
    return svc


def _page(request: Request, status: int, message: str, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    body = {"lang": lang, "title": t("ack.title", lang), "message": message, "group": None, "form": False}
    body["button"] = t("ack.button", lang)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return TEMPLATES.TemplateResponse(
        request, "ack.html", body | context, status_code=status, headers=headers
    )


def _lang(request: Request) -> str:
    settings = request.app.state.settings
    return pick_lang(request.query_params.get("lang"), request.headers.get("accept-language"), settings.lang)


def _refused(request: Request, exc: AckRefused) -> HTMLResponse:
    return _page(request, exc.status, t(exc.reason, _lang(request), **exc.values), error=True)


@router.get("/ack/{group_id}", response_class=HTMLResponse)
def confirm_page(request: Request, group_id: str, token: str = Query("", alias="t")) -> HTMLResponse:
    svc = notify_service(request)
    try:
        with session_scope(request.app.state.db) as session:
            claims, group = ackflow.check(svc, session, token, group_id, utcnow())  # reads only
    except AckRefused as exc:
        return _refused(request, exc)
    message = t("ack.confirm", _lang(request), user=claims.username)
    return _page(request, 200, message, group=group, form=True, token=token)


@router.post("/ack/{group_id}", response_class=HTMLResponse)
def acknowledge(request: Request, group_id: str, token: str = Form("", alias="t")) -> HTMLResponse:
    svc = notify_service(request)
    now = utcnow()
    try:
        with session_scope(request.app.state.db) as session:
            group = ackflow.acknowledge(svc, session, token, group_id, now)
            user = group.acked_by or "?"
    except AckRefused as exc:
        return _refused(request, exc)
    message = t("ack.done", _lang(request), user=user, at=format_time(now, svc.config.zone))
    return _page(request, 200, message, group=group)
