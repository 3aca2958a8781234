"""On-call: who is on call now, the next hand-offs, coverage gaps, escalation policies, overrides
and silences — the page /oncall and the same as JSON under /api/v1/oncall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from soc.db.accounts import list_agencies
from soc.db.models import utcnow
from soc.db.notify import Silence
from soc.db.session import session_scope
from soc.detect.model import LEVELS
from soc.triage import oncall as service
from soc.triage.principal import Invalid, Principal
from soc.web.auth import reader, writer
from soc.web.charts import duration
from soc.web.render import lang_of, page

router = APIRouter()
ID_MAX = 2**62
MESSAGES = ("created", "expired", "override_created", "override_ended")
EXPIRY_CHOICES = (1, 4, 8, 24, 72)
"""Hours offered in the silence form."""


class HandoffOut(BaseModel):
    at: datetime
    person: str | None


class ScheduleOut(BaseModel):
    name: str
    person: str | None
    """None: nobody is on call now (a coverage gap)."""
    overridden: bool
    handoffs: list[HandoffOut]
    gaps: list[tuple[datetime, datetime]]
    """Spans in the next 14 days when nobody is on call (15-minute precision)."""


class PolicyLevelOut(BaseModel):
    delay_seconds: int
    targets: list[str]
    now: list[str]


class PolicyOut(BaseModel):
    name: str
    repeat: int
    ack_timeout_seconds: int
    levels: list[PolicyLevelOut]


class OverrideOut(BaseModel):
    id: int
    schedule: str
    username: str
    start_at: datetime
    end_at: datetime
    author: str
    reason: str


class SilenceOut(BaseModel):
    id: int
    kind: str
    matchers: dict[str, str]
    author: str
    reason: str
    starts_at: datetime
    expires_at: datetime
    hits: int
    """Notifications this silence held back."""
    created_at: datetime
    active: bool


class OverrideIn(BaseModel):
    schedule: str
    username: str
    start_at: datetime
    end_at: datetime
    reason: str = Field(max_length=500)


class OncallOut(BaseModel):
    at: datetime
    zone: str
    schedules: list[ScheduleOut]
    policies: list[PolicyOut]
    overrides: list[OverrideOut]
    silences: list[SilenceOut]
    problems: list[str]


class SilenceIn(BaseModel):
    rule_id: str | None = None
    agency: str | None = None
    level: str | None = None
    kind: Literal["silence", "maintenance"] = "silence"
    reason: str = Field(max_length=500)
    starts_at: datetime | None = None
    expires_at: datetime
    """Mandatory: every silence ends."""


def _silence_out(s: Silence, at: datetime) -> SilenceOut:
    return SilenceOut(
        id=s.id, kind=s.kind, matchers={k: str(v) for k, v in s.matchers.items()}, author=s.author,
        reason=s.reason, starts_at=s.starts_at, expires_at=s.expires_at, hits=s.hits, created_at=s.created_at,
        active=s.starts_at <= at < s.expires_at,
    )  # fmt: skip


def _state(request: Request, principal: Principal) -> tuple[service.OncallNow, list[SilenceOut]]:
    at = utcnow()
    with session_scope(request.app.state.db) as s:
        now = service.now(s, principal, request.app.state.settings, at)
        silences = [_silence_out(x, at) for x in service.silences(s, principal, at)]
        s.expunge_all()
    return now, silences


def _out(now: service.OncallNow, silences: list[SilenceOut]) -> OncallOut:
    return OncallOut(
        at=now.at,
        zone=now.zone,
        schedules=[
            ScheduleOut(
                name=x.name, person=x.person, overridden=x.overridden,
                handoffs=[HandoffOut(at=h.at, person=h.person) for h in x.handoffs], gaps=x.gaps,
            )
            for x in now.schedules
        ],
        policies=[
            PolicyOut(
                name=p.name, repeat=p.repeat, ack_timeout_seconds=p.ack_timeout_seconds,
                levels=[PolicyLevelOut(**lv.__dict__) for lv in p.levels],
            )
            for p in now.policies
        ],
        overrides=[OverrideOut.model_validate(o, from_attributes=True) for o in now.overrides],
        silences=silences,
        problems=now.problems,
    )  # fmt: skip


def _local(value: str, zone: ZoneInfo) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{value!r} is not a date and time (use 2026-11-27T08:00)") from None
    try:
        return (at if at.tzinfo else at.replace(tzinfo=zone)).astimezone(UTC)
    except OverflowError:
        raise Invalid(f"{value!r} is out of range") from None


@router.get("/oncall", response_class=HTMLResponse, include_in_schema=False)
def oncall_page(
    request: Request, principal: Annotated[Principal, Depends(reader("oncall.read"))]
) -> HTMLResponse:
    now, silences = _state(request, principal)
    with session_scope(request.app.state.db) as s:
        agencies = [(a.code, a.name) for a in list_agencies(s) if principal.sees(a.code)]
    msg = request.query_params.get("msg")
    return page(
        request, "pages/oncall_overview.html", data=now, silences=silences, agencies=agencies, levels=LEVELS,
        msg=msg if msg in MESSAGES else None, can_manage=principal.can("oncall.manage"),
        dur=partial(duration, lang=lang_of(request)),
        can_override=principal.can("oncall.manage") and principal.city_wide,
        expiry_choices=EXPIRY_CHOICES,
    )  # fmt: skip


@router.post("/oncall/silences", include_in_schema=False)
def create_silence_form(
    request: Request,
    principal: Annotated[Principal, Depends(writer("oncall.manage"))],
    reason: Annotated[str, Form()] = "",
    rule_id: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
    level: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "silence",
    expires_in: Annotated[str, Form()] = "",
    expires_at: Annotated[str, Form()] = "",
) -> RedirectResponse:
    at = utcnow()
    zone = ZoneInfo(request.app.state.settings.timezone)
    until = _local(expires_at, zone)
    if until is None and expires_in.isdigit():
        until = at + timedelta(hours=int(expires_in))
    with session_scope(request.app.state.db) as s:
        service.create_silence(
            s, principal, matchers={"rule_id": rule_id, "agency": agency, "level": level}, reason=reason,
            expires_at=until, at=at, kind=kind,
        )  # fmt: skip
    return RedirectResponse("/oncall?msg=created#silences", status_code=303)


@router.post("/oncall/silences/{silence_id}/expire", include_in_schema=False)
def expire_silence_form(
    request: Request,
    silence_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    principal: Annotated[Principal, Depends(writer("oncall.manage"))],
) -> RedirectResponse:
    with session_scope(request.app.state.db) as s:
        service.expire_silence(s, principal, silence_id, utcnow())
    return RedirectResponse("/oncall?msg=expired#silences", status_code=303)


@router.get("/api/v1/oncall", tags=["oncall"])
def oncall_api(
    request: Request, principal: Annotated[Principal, Depends(reader("oncall.read"))]
) -> OncallOut:
    """Who is on call now per schedule, the next hand-offs, coverage gaps in the next 14 days,
    what each escalation policy pages now, current overrides and silences."""
    return _out(*_state(request, principal))


@router.get("/api/v1/oncall/silences", tags=["oncall"])
def silences_api(
    request: Request, principal: Annotated[Principal, Depends(reader("oncall.read"))]
) -> list[SilenceOut]:
    """Active and upcoming silences first, then the latest expired ones."""
    return _state(request, principal)[1]


@router.post("/api/v1/oncall/silences", tags=["oncall"], status_code=201)
def create_silence_api(
    request: Request, body: SilenceIn, principal: Annotated[Principal, Depends(writer("oncall.manage"))]
) -> SilenceOut:
    """Mute notifications of alerts matching every given matcher until `expires_at` (audited)."""
    at = utcnow()
    if body.expires_at.tzinfo is None or (body.starts_at is not None and body.starts_at.tzinfo is None):
        raise Invalid("times need an offset, e.g. 2026-11-28T08:00:00+07:00")
    try:
        starts = body.starts_at.astimezone(UTC) if body.starts_at else None
        expires = body.expires_at.astimezone(UTC)
    except OverflowError:
        raise Invalid("a time is out of range") from None
    with session_scope(request.app.state.db) as s:
        silence = service.create_silence(
            s, principal, matchers={"rule_id": body.rule_id, "agency": body.agency, "level": body.level},
            reason=body.reason, expires_at=expires, starts_at=starts, at=at,
            kind=body.kind,
        )  # fmt: skip
        return _silence_out(silence, at)


@router.post("/api/v1/oncall/silences/{silence_id}/expire", tags=["oncall"])
def expire_silence_api(
    request: Request,
    silence_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    principal: Annotated[Principal, Depends(writer("oncall.manage"))],
) -> SilenceOut:
    """End a silence now (audited)."""
    at = utcnow()
    with session_scope(request.app.state.db) as s:
        return _silence_out(service.expire_silence(s, principal, silence_id, at), at)


@router.post("/oncall/overrides", include_in_schema=False)
def create_override_form(
    request: Request,
    principal: Annotated[Principal, Depends(writer("oncall.manage"))],
    schedule: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    start_at: Annotated[str, Form()] = "",
    end_at: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    zone = ZoneInfo(request.app.state.settings.timezone)
    start, end = _local(start_at, zone) or utcnow(), _local(end_at, zone)
    if end is None:
        raise Invalid("an end time is needed")
    with session_scope(request.app.state.db) as s:
        service.create_override(
            s, principal, request.app.state.settings, schedule=schedule, username=username.strip(),
            start_at=start, end_at=end, reason=reason,
        )  # fmt: skip
    return RedirectResponse("/oncall?msg=override_created#overrides", status_code=303)


@router.post("/oncall/overrides/{override_id}/expire", include_in_schema=False)
def expire_override_form(
    request: Request,
    override_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    principal: Annotated[Principal, Depends(writer("oncall.manage"))],
) -> RedirectResponse:
    with session_scope(request.app.state.db) as s:
        service.expire_override(s, principal, override_id, utcnow())
    return RedirectResponse("/oncall?msg=override_ended#overrides", status_code=303)


@router.post("/api/v1/oncall/overrides", tags=["oncall"], status_code=201)
def create_override_api(
    request: Request, body: OverrideIn, principal: Annotated[Principal, Depends(writer("oncall.manage"))]
) -> OverrideOut:
    """`username` covers `schedule` from `start_at` to `end_at`, whatever the rotation says
    (city-wide roles only; audited)."""
    if body.start_at.tzinfo is None or body.end_at.tzinfo is None:
        raise Invalid("times need an offset, e.g. 2026-11-28T08:00:00+07:00")
    try:
        start, end = body.start_at.astimezone(UTC), body.end_at.astimezone(UTC)
    except OverflowError:
        raise Invalid("a time is out of range") from None
    with session_scope(request.app.state.db) as s:
        made = service.create_override(
            s, principal, request.app.state.settings, schedule=body.schedule, username=body.username,
            start_at=start, end_at=end, reason=body.reason,
        )  # fmt: skip
        return OverrideOut.model_validate(made, from_attributes=True)


@router.post("/api/v1/oncall/overrides/{override_id}/expire", tags=["oncall"])
def expire_override_api(
    request: Request,
    override_id: Annotated[int, Path(ge=1, le=ID_MAX)],
    principal: Annotated[Principal, Depends(writer("oncall.manage"))],
) -> OverrideOut:
    """End an override now (audited)."""
    with session_scope(request.app.state.db) as s:
        return OverrideOut.model_validate(
            service.expire_override(s, principal, override_id, utcnow()), from_attributes=True
        )
