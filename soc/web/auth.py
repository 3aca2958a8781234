"""Who is calling: a browser session (cookie) or an API token (Authorization: Bearer), and the
CSRF check for writes from a browser.

Routes take `Depends(reader("alerts.read"))` or `Depends(writer("alerts.triage"))` and get the
`Principal`; the service layer (soc.triage) then scopes every query by its agencies. A bearer
token is not ambient authority, so token requests need no CSRF token; cookie requests that change
something must echo the session's CSRF token in a form field or the X-CSRF-Token header.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request
from sqlalchemy import Engine

from soc.db import tokens
from soc.db.models import User
from soc.db.session import session_scope
from soc.triage.principal import Forbidden, Principal
from soc.web import sessions

SESSION_COOKIE = "soc_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """No valid session or token (→ 401 for the API, a redirect to /login for pages)."""


class CsrfFailed(Exception):
    """A cookie-authenticated write without the session's CSRF token (→ 403)."""


def identify(request: Request) -> Principal | None:
    """The caller, cached on request.state; None when anonymous."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    request.state.principal = None
    request.state.csrf = None
    request.state.via = None
    db: Engine = request.app.state.db
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    with session_scope(db) as session:
        if scheme.lower() == "bearer" and raw.strip():
            info = tokens.verify(session, raw.strip())
            user = session.get(User, info.user_id) if info and info.kind == "api" and info.user_id else None
            if user is not None and user.is_active:
                request.state.principal = Principal.of(user)
                request.state.via = "token"
        elif cookie := request.cookies.get(SESSION_COOKIE):
            found = sessions.lookup(session, cookie)
            if found is not None:
                row, user = found
                request.state.principal = Principal.of(user)
                request.state.csrf = row.csrf_token
                request.state.via = "session"
    principal: Principal | None = request.state.principal
    return principal


def reader(permission: str | None = None) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = identify(request)
        if principal is None:
            raise LoginRequired
        if permission:
            principal.require(permission)
        return principal

    return dependency


def writer(permission: str | None = None) -> Callable[[Request], Awaitable[Principal]]:
    read = reader(permission)

    async def dependency(request: Request) -> Principal:
        principal = read(request)
        await check_csrf(request)
        return principal

    return dependency


async def check_csrf(request: Request) -> None:
    if request.state.via != "session":
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = request.state.csrf or ""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed


def require_principal(request: Request) -> Principal:
    principal = identify(request)
    if principal is None:
        raise LoginRequired
    return principal


__all__ = ["CsrfFailed", "Forbidden", "LoginRequired", "identify", "reader", "writer"]
