"""One place that turns refusals into responses: JSON for /api/, a page (in the user's language)
for everything else. Messages never carry internals."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from soc.i18n import t
from soc.triage.principal import Conflict, Forbidden, Invalid, NotFound
from soc.web.auth import CsrfFailed, LoginRequired
from soc.web.render import lang_of, page


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def _refuse(request: Request, status: int, api_message: str, page_key: str | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": api_message}, status_code=status)
    message = t(page_key, lang_of(request)) if page_key else api_message
    return page(request, "error.html", status, message=message)


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": "sign in or send an API token (Authorization: Bearer …)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(CsrfFailed)
    def csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
        return _refuse(
            request,
            403,
            "missing or wrong CSRF token (X-CSRF-Token header or csrf_token field)",
            "error.csrf",
        )

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, _exc: Forbidden) -> Response:
        return _refuse(request, 403, "not allowed for your roles", "error.forbidden")

    @app.exception_handler(NotFound)
    def not_found(request: Request, _exc: NotFound) -> Response:
        return _refuse(request, 404, "not found", "error.not_found")

    @app.exception_handler(Invalid)
    def invalid(request: Request, exc: Invalid) -> Response:
        return _refuse(request, 400, str(exc))

    @app.exception_handler(Conflict)
    def conflict(request: Request, exc: Conflict) -> Response:
        return _refuse(request, 409, str(exc))
