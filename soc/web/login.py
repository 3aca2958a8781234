"""Sign in, sign out, language choice and `GET /api/v1/me`."""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from soc.db import accounts, audit
from soc.db.models import User
from soc.db.session import session_scope
from soc.i18n import t
from soc.triage.principal import Principal
from soc.web import sessions
from soc.web.auth import SESSION_COOKIE, check_csrf, identify, reader
from soc.web.limiter import LoginLimiter
from soc.web.render import LANG_COOKIE, lang_of, page

log = logging.getLogger(__name__)
router = APIRouter()
PRELOGIN_COOKIE = "soc_prelogin"
"""Double-submit token for the login form itself (there is no session yet to bind it to)."""


def safe_next(target: str | None) -> str:
    """Only paths on this site: never `//host` or `http://…`, so login cannot redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _secure(request: Request) -> bool:
    base: str = request.app.state.settings.base_url
    return request.url.scheme == "https" or base.startswith("https://")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, next_url: str, status: int = 200, **context: Any) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", status, login_csrf=token, next=next_url, **context)
    response.set_cookie(
        PRELOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    if identify(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    lang = lang_of(request)
    target = safe_next(next)
    expected = request.cookies.get(PRELOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, target, 403, error=t("login.expired", lang), username=username)
    limiter: LoginLimiter = request.app.state.login_limiter
    wait = limiter.allow(_client(request))
    if wait:
        message = t("login.throttled", lang, seconds=math.ceil(wait))
        response = _login_page(request, target, 429, error=message, username=username)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    db: Engine = request.app.state.db
    with session_scope(db) as session:
        user = accounts.authenticate(session, username, password)
        if user is None:
            log.warning("failed sign-in for %r from %s", username[:64], _client(request))
            failed = True
        else:
            failed = False
            raw, _ = sessions.create(session, user, request.headers.get("user-agent"))
            audit.record(
                session, actor=user.username, action="user.login", target_type="user",
                target_id=user.id, detail={"client": _client(request)},
            )  # fmt: skip
    if failed:
        return _login_page(request, target, 401, error=t("login.failed", lang), username=username)
    redirect = RedirectResponse(target, status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE, raw, max_age=int(sessions.ABSOLUTE.total_seconds()), httponly=True,
        samesite="lax", secure=_secure(request), path="/",
    )  # fmt: skip
    redirect.delete_cookie(PRELOGIN_COOKIE)
    return redirect


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    principal = identify(request)
    if principal is not None:
        await check_csrf(request)
        raw = request.cookies.get(SESSION_COOKIE, "")
        with session_scope(request.app.state.db) as session:
            sessions.revoke(session, raw)
            audit.record(
                session, actor=principal.username, action="user.logout", target_type="user",
                target_id=principal.user_id or 0,
            )  # fmt: skip
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang", include_in_schema=False)
async def set_language(request: Request) -> Response:
    form = await request.form()
    lang = form.get("lang")
    target = _without_lang(safe_next(str(form.get("next") or "/")))
    if lang not in ("vi", "en"):
        return RedirectResponse(target, status_code=303)
    principal = identify(request)
    if principal is not None:
        await check_csrf(request)
        with session_scope(request.app.state.db) as session:
            user = session.get(User, principal.user_id)
            if user is not None and user.locale != lang:
                user.locale = str(lang)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(LANG_COOKIE, str(lang), max_age=365 * 86400, samesite="lax", secure=_secure(request))
    return response


def _without_lang(target: str) -> str:
    """Drop ?lang= from the page to go back to, or it would override the choice just made."""
    path, _, query = target.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    return f"{path}?{urlencode(kept)}" if kept else path


@router.get("/api/v1/me", tags=["account"])
def me(request: Request, principal: Annotated[Principal, Depends(reader())]) -> dict[str, Any]:
    """The caller: username, roles, the agencies whose data they see (null = every agency) and, for
    a browser session, the CSRF token to send as X-CSRF-Token with writes."""
    return {
        "csrf_token": request.state.csrf,
        "username": principal.username,
        "full_name": principal.full_name,
        "roles": sorted(principal.roles),
        "agencies": None if principal.agencies is None else sorted(principal.agencies),
        "locale": principal.locale,
    }
