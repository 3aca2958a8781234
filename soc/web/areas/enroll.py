"""POST /api/v1/enroll: an agency server exchanges a one-time enrolment token for its collector
token. No session or bearer token: the enrolment token in the body is the credential."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from soc.collect.enroll import Enrolled, EnrolmentRefused, redeem
from soc.db.session import session_scope
from soc.web.limiter import LoginLimiter

router = APIRouter()
log = logging.getLogger(__name__)
_limiter = LoginLimiter(attempts=20, per_seconds=300.0)  # guessing is hopeless; this keeps logs calm


class EnrolIn(BaseModel):
    token: str = Field(max_length=200, description="The one-time enrolment token (socenr_…).")
    host: str | None = Field(default=None, max_length=100, description="The server's host name.")


class EnrolOut(BaseModel):
    token: str
    """The collector's own bearer token for /api/v1/ingest; shown once."""
    token_id: int
    agency: str
    name: str


def _exchange(db: Engine, body: EnrolIn, client: str) -> Enrolled | EnrolmentRefused:
    with session_scope(db) as session:
        try:
            return redeem(session, body.token.strip(), client=client, host=body.host)
        except EnrolmentRefused as exc:  # committed: the refusal stays in the audit log
            return exc


@router.post(
    "/api/v1/enroll",
    response_model=EnrolOut,
    responses={401: {"description": "unknown, used or expired enrolment token"}, 429: {}},
)
async def enroll(body: EnrolIn, request: Request) -> JSONResponse:
    client = request.client.host if request.client else "unknown"
    wait = _limiter.allow(client)
    if wait:
        return JSONResponse(
            {"error": "too many enrolment attempts; try later"},
            status_code=429, headers={"Retry-After": str(int(wait) + 1)},
        )  # fmt: skip
    result = await run_in_threadpool(_exchange, request.app.state.db, body, client)
    if isinstance(result, EnrolmentRefused):
        log.warning("enrolment refused client=%s reason=%s", client, result)
        return JSONResponse({"error": str(result)}, status_code=401)
    log.info("collector enrolled agency=%s name=%s token_id=%d", result.agency, result.name, result.token_id)
    out = EnrolOut(token=result.token, token_id=result.token_id, agency=result.agency, name=result.name)
    return JSONResponse(out.model_dump(), headers={"Cache-Control": "no-store"})
