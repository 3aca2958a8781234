"""The audit log (admins only): /audit and GET /api/v1/audit, newest first, filtered, in keyset
pages, with the hash-chain verification result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from soc.db.accounts import list_agencies
from soc.db.session import session_scope
from soc.triage import audit as service
from soc.triage.principal import Invalid, Principal
from soc.web.auth import reader
from soc.web.render import page

router = APIRouter()
ID_MAX = 2**62


class EntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    agency: str | None
    detail: dict[str, Any]
    hash: str


class ChainOut(BaseModel):
    ok: bool
    entries: int
    latest_hash: str | None
    """Keep this elsewhere: cutting entries off the end is only detectable against it."""
    problems: list[str]


class AuditOut(BaseModel):
    entries: list[EntryOut]
    next_before: int | None
    """Pass as `before` for the next (older) page; null on the last page."""
    chain: ChainOut | None


def _time(value: str | None, zone: ZoneInfo) -> datetime | None:
    text = (value or "").strip().replace(" ", "T")
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise Invalid(f"{value!r} is not a date and time (use 2026-11-27T08:00)") from None
    try:
        return (at if at.tzinfo else at.replace(tzinfo=zone)).astimezone(UTC)
    except OverflowError:
        raise Invalid(f"{value!r} is out of range") from None


def _filter(request: Request, actor: str | None, action: str | None, target_type: str | None,
            agency: str | None, since: str | None, until: str | None) -> service.AuditFilter:  # fmt: skip
    zone = ZoneInfo(request.app.state.settings.timezone)
    return service.AuditFilter(
        actor=actor or None, action=action or None, target_type=target_type or None, agency=agency or None,
        since=_time(since, zone), until=_time(until, zone),
    )  # fmt: skip


def _entries(p: service.AuditPage) -> list[EntryOut]:
    return [
        EntryOut(
            id=e.id, at=e.at, actor=e.actor, action=e.action, target_type=e.target_type,
            target_id=e.target_id, agency=p.agencies.get(e.agency_id) if e.agency_id is not None else None,
            detail=e.detail, hash=e.hash,
        )
        for e in p.entries
    ]  # fmt: skip


Text = Annotated[str | None, Query()]


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(
    request: Request,
    principal: Annotated[Principal, Depends(reader("audit.read"))],
    actor: Text = None,
    action: Text = None,
    target_type: Text = None,
    agency: Text = None,
    since: Text = None,
    until: Text = None,
    before: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
) -> HTMLResponse:
    f = _filter(request, actor, action, target_type, agency, since, until)
    with session_scope(request.app.state.db) as s:
        found = service.entries(s, principal, f, before=before)
        chain = service.check_chain(s, principal)
        actions, types = service.choices(s, principal)
        agencies = [(a.code, a.name) for a in list_agencies(s)]
        rows = _entries(found)
    form = {"actor": actor or "", "action": action or "", "target_type": target_type or "",
            "agency": agency or "", "since": since or "", "until": until or ""}  # fmt: skip
    next_url = None
    if found.next_before is not None:
        next_url = "/audit?" + urlencode(
            {**{k: v for k, v in form.items() if v}, "before": found.next_before}
        )
    return page(
        request, "pages/audit_log.html", rows=rows, chain=chain, form=form, actions=actions, types=types,
        agencies=agencies, next_url=next_url,
        first_url="/audit?" + urlencode({k: v for k, v in form.items() if v}),
        paged=before is not None,
    )  # fmt: skip


@router.get("/api/v1/audit", tags=["audit"])
def audit_api(
    request: Request,
    principal: Annotated[Principal, Depends(reader("audit.read"))],
    actor: Annotated[str | None, Query(description="Exact user name.")] = None,
    action: Annotated[
        str | None, Query(description="Exact action, or a prefix ending in '.' or '*'.")
    ] = None,
    target_type: Text = None,
    agency: Annotated[str | None, Query(description="Agency code.")] = None,
    since: Annotated[str | None, Query(description="ISO time (local zone when no offset).")] = None,
    until: Annotated[str | None, Query(description="ISO time, exclusive.")] = None,
    before: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="Entry id from next_before: the next, older page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.PAGE_SIZE,
    verify: Annotated[bool, Query(description="Also check the whole hash chain.")] = True,
) -> AuditOut:
    """The audit log, newest first (admins only), with the hash-chain verification result."""
    f = _filter(request, actor, action, target_type, agency, since, until)
    with session_scope(request.app.state.db) as s:
        found = service.entries(s, principal, f, before=before, limit=limit)
        chain = service.check_chain(s, principal) if verify else None
        return AuditOut(
            entries=_entries(found), next_before=found.next_before,
            chain=ChainOut(**chain.__dict__) if chain else None,
        )  # fmt: skip
