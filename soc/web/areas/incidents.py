"""Incidents: list, detail, escalation of alerts, owner/status/severity, notes, reporting timers
(pages and JSON API). Thin: soc.triage.incidents scopes and audits everything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from soc.db import accounts
from soc.db.detection import Alert
from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.db.triage import Incident
from soc.dossiers.library import Library
from soc.i18n import t
from soc.triage import incidents as svc
from soc.triage.principal import Invalid, Principal
from soc.web.auth import reader, writer
from soc.web.render import lang_of, page

router = APIRouter()
PAGE_SIZE = 50
Reader = Annotated[Principal, Depends(reader("incidents.read"))]
Writer = Annotated[Principal, Depends(writer("incidents.write"))]
T = TypeVar("T")
MAX_ID = 2**31 - 1
IncidentId = Annotated[int, Path(ge=1, le=MAX_ID)]


@contextmanager
def _db(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.db) as session:
        yield session


# ---- JSON API -------------------------------------------------------------------------------


class TimerOut(BaseModel):
    kind: Literal["initial_notice", "full_report"]
    due_at: datetime
    done_at: datetime | None
    state: Literal["done", "pending", "soon", "overdue"]
    seconds_left: int


class IncidentOut(BaseModel):
    id: int
    title: str
    agency: str | None
    severity: str
    serious: bool
    status: str
    owner: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    timers: list[TimerOut]


class AlertBrief(BaseModel):
    id: str
    rule_id: str
    rule_title: str
    level: str
    status: str
    host: str | None
    user_name: str | None
    source_ip: str | None
    first_at: datetime
    last_at: datetime


class NoteOut(BaseModel):
    id: int
    at: datetime
    author: str
    body: str


class IncidentDetail(IncidentOut):
    alerts: list[AlertBrief]
    notes: list[NoteOut]


class IncidentList(BaseModel):
    total: int
    counts: dict[str, int]
    incidents: list[IncidentOut]


class EscalateIn(BaseModel):
    alert_ids: list[str] = Field(min_length=1, max_length=svc.MAX_ALERTS)
    incident_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Attach to this incident; omit to open a new one"
    )
    title: str | None = Field(None, max_length=300)
    severity: Literal["low", "medium", "high", "critical"] | None = None
    serious: bool = False


class UpdateIn(BaseModel):
    version: int | None = Field(None, description="Refuse (409) if the incident changed since this version")
    status: Literal["open", "contained", "closed"] | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None
    serious: bool | None = None
    owner: str | None = Field(None, max_length=64, description='Username, or "" to unassign')
    title: str | None = Field(None, max_length=300)


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=svc.MAX_NOTE)


class ReportIn(BaseModel):
    kind: Literal["initial_notice", "full_report"]


@router.get("/api/v1/incidents", tags=["incidents"])
def api_list(
    request: Request,
    principal: Reader,
    status: Annotated[list[Literal["open", "contained", "closed"]] | None, Query()] = None,
    severity: Annotated[list[Literal["low", "medium", "high", "critical"]] | None, Query()] = None,
    agency: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IncidentList:
    f = svc.IncidentFilter(tuple(status or ()), tuple(severity or ()), tuple(agency or ()))
    now = utcnow()
    with _db(request) as session:
        found = svc.list_incidents(session, principal, f, limit=limit, offset=offset)
        return IncidentList(
            total=found.total, counts=found.counts, incidents=[_out(i, now) for i in found.incidents]
        )


@router.get("/api/v1/incidents/{incident_id}", tags=["incidents"])
def api_get(request: Request, principal: Reader, incident_id: IncidentId) -> IncidentDetail:
    with _db(request) as session:
        return _detail(session, principal, svc.get(session, principal, incident_id))


def _library(request: Request) -> Library:
    """The playbooks the service loaded (settings.playbooks_dir), so incidents follow the same
    incident-reporting playbook the rest of the service uses."""
    library: Library = request.app.state.dossiers.library
    return library


@router.post("/api/v1/incidents/escalate", tags=["incidents"])
def api_escalate(request: Request, principal: Writer, body: EscalateIn) -> IncidentDetail:
    with _db(request) as session:
        incident = svc.escalate(
            session, principal, body.alert_ids, now=utcnow(), incident_id=body.incident_id, title=body.title,
            severity=body.severity, serious=body.serious, library=_library(request),
        )  # fmt: skip
        return _detail(session, principal, incident)


@router.patch("/api/v1/incidents/{incident_id}", tags=["incidents"])
def api_update(
    request: Request, principal: Writer, incident_id: IncidentId, body: UpdateIn
) -> IncidentDetail:
    with _db(request) as session:
        incident = svc.update(
            session, principal, incident_id, now=utcnow(), library=_library(request), **body.model_dump()
        )
        return _detail(session, principal, incident)


@router.post("/api/v1/incidents/{incident_id}/notes", tags=["incidents"])
def api_note(request: Request, principal: Writer, incident_id: IncidentId, body: NoteIn) -> NoteOut:
    with _db(request) as session:
        note = svc.add_note(session, principal, incident_id, body.body, now=utcnow())
        return NoteOut(id=note.id, at=note.at, author=note.author, body=note.body)


@router.post("/api/v1/incidents/{incident_id}/reports", tags=["incidents"])
def api_report(
    request: Request, principal: Writer, incident_id: IncidentId, body: ReportIn
) -> IncidentDetail:
    with _db(request) as session:
        incident = svc.record_report(session, principal, incident_id, body.kind, now=utcnow())
        return _detail(session, principal, incident)


@router.delete("/api/v1/incidents/{incident_id}/alerts/{alert_id}", tags=["incidents"])
def api_unlink(
    request: Request,
    principal: Writer,
    incident_id: IncidentId,
    alert_id: str,
    reason: Annotated[str, Query(max_length=500)] = "",
) -> IncidentDetail:
    with _db(request) as session:
        svc.unlink(session, principal, incident_id, alert_id, now=utcnow(), reason=reason)
        return _detail(session, principal, svc.get(session, principal, incident_id))


# ---- pages ----------------------------------------------------------------------------------


@router.get("/incidents", response_class=HTMLResponse, include_in_schema=False)
def list_page(
    request: Request,
    principal: Reader,
    status: Annotated[str, Query(max_length=20)] = "",
    severity: Annotated[str, Query(max_length=20)] = "",
    agency: Annotated[str, Query(max_length=64)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    f = svc.IncidentFilter(
        tuple(s for s in [status] if s in svc.STATUSES),
        tuple(s for s in [severity] if s in svc.SEVERITIES),
        tuple(a for a in [agency] if a),
    )
    now = utcnow()
    with _db(request) as session:
        found = svc.list_incidents(session, principal, f, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
        names = _names(session)
        rows = [(i, _next_timer(i, now)) for i in found.incidents]
    query = {"status": status, "severity": severity, "agency": agency}
    base = urlencode({k: v for k, v in query.items() if v})
    pages = {
        "prev": f"/incidents?{base}&page={page_no - 1}" if page_no > 1 else None,
        "next": f"/incidents?{base}&page={page_no + 1}" if page_no * PAGE_SIZE < found.total else None,
    }
    agencies = sorted((c, n) for c, n in names.items() if principal.sees(c))
    return page(
        request, "pages/incidents_list.html", rows=rows, total=found.total, counts=found.counts,
        form=query, agencies=agencies, names=names, pages=pages, page_no=page_no, now=now,
        statuses=svc.STATUSES, severities=svc.SEVERITIES, left=_left_text(request),
    )  # fmt: skip


@router.get("/incidents/new", response_class=HTMLResponse, include_in_schema=False)
def new_page(
    request: Request,
    principal: Annotated[Principal, Depends(reader("incidents.write"))],
    alert_ids: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    with _db(request) as session:
        try:
            alerts = svc.visible_alerts(session, principal, alert_ids or [])
            agencies = {a.agency for a in alerts}
            if len(agencies) > 1:
                raise svc.IncidentError(
                    "incidents.error.mixed",
                    "mixed agencies",
                    agencies=", ".join(sorted(a or "—" for a in agencies)),
                )
        except svc.IncidentError as exc:
            return _refused(request, exc)
        (agency,) = agencies
        open_ones = svc.open_incidents_for(session, principal, agency)
        names = _names(session)
    levels = ["informational", "low", "medium", "high", "critical"]
    top = max((a.level for a in alerts), key=lambda lv: levels.index(lv) if lv in levels else 0)
    return page(
        request, "pages/incidents_new.html", alerts=alerts, agency=agency, names=names, open_ones=open_ones,
        default_title=alerts[0].rule_title, default_severity=top if top in svc.SEVERITIES else "low",
        severities=svc.SEVERITIES,
    )  # fmt: skip


@router.post("/incidents/escalate", include_in_schema=False)
def escalate_form(
    request: Request,
    principal: Writer,
    alert_ids: Annotated[list[str] | None, Form()] = None,
    incident_id: Annotated[str, Form(max_length=20)] = "",
    title: Annotated[str, Form(max_length=300)] = "",
    severity: Annotated[str, Form(max_length=20)] = "",
    serious: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def act(session: Session) -> Incident:
        return svc.escalate(
            session, principal, alert_ids or [], now=utcnow(), incident_id=_int(incident_id),
            title=title if not incident_id else None, severity=severity if not incident_id else None,
            serious=bool(serious), library=_library(request),
        )  # fmt: skip

    return _form_action(request, act, lambda i: f"/incidents/{i.id}")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse, include_in_schema=False)
def detail_page(request: Request, principal: Reader, incident_id: IncidentId) -> HTMLResponse:
    now = utcnow()
    with _db(request) as session:
        incident = svc.get(session, principal, incident_id)
        context: dict[str, Any] = {
            "incident": incident, "alerts": svc.alerts_of(session, principal, incident),
            "notes": svc.notes_of(session, incident), "timers": svc.timers(incident, now),
            "history": svc.history(session, incident), "names": _names(session),
            "owners": svc.owners(session) if principal.can("incidents.write") else [],
        }  # fmt: skip
    return page(
        request, "pages/incidents_detail.html", statuses=svc.STATUSES, severities=svc.SEVERITIES,
        left=_left_text(request), **context,
    )  # fmt: skip


@router.post("/incidents/{incident_id}/status", include_in_schema=False)
def status_form(
    request: Request,
    principal: Writer,
    incident_id: IncidentId,
    status: Annotated[str, Form(max_length=20)],
    version: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _form_action(
        request,
        lambda s: svc.update(s, principal, incident_id, now=utcnow(), status=status, version=_int(version)),
        lambda i: f"/incidents/{i.id}",
    )


@router.post("/incidents/{incident_id}/severity", include_in_schema=False)
def severity_form(
    request: Request,
    principal: Writer,
    incident_id: IncidentId,
    severity: Annotated[str, Form(max_length=20)],
    serious: Annotated[str, Form(max_length=10)] = "",
    version: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _form_action(
        request,
        lambda s: svc.update(
            s,
            principal,
            incident_id,
            now=utcnow(),
            severity=severity,
            serious=bool(serious),
            version=_int(version),
            library=_library(request),
        ),
        lambda i: f"/incidents/{i.id}",
    )


@router.post("/incidents/{incident_id}/owner", include_in_schema=False)
def owner_form(
    request: Request,
    principal: Writer,
    incident_id: IncidentId,
    owner: Annotated[str, Form(max_length=64)] = "",
    version: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _form_action(
        request,
        lambda s: svc.update(s, principal, incident_id, now=utcnow(), owner=owner, version=_int(version)),
        lambda i: f"/incidents/{i.id}",
    )


@router.post("/incidents/{incident_id}/notes", include_in_schema=False)
def note_form(
    request: Request,
    principal: Writer,
    incident_id: IncidentId,
    body: Annotated[str, Form(max_length=svc.MAX_NOTE)] = "",
) -> Response:
    return _form_action(
        request,
        lambda s: svc.add_note(s, principal, incident_id, body, now=utcnow()),
        lambda n: f"/incidents/{incident_id}#notes",
    )


@router.post("/incidents/{incident_id}/reports", include_in_schema=False)
def report_form(
    request: Request, principal: Writer, incident_id: IncidentId, kind: Annotated[str, Form(max_length=20)]
) -> Response:
    return _form_action(
        request,
        lambda s: svc.record_report(s, principal, incident_id, kind, now=utcnow()),
        lambda i: f"/incidents/{i.id}",
    )


@router.post("/incidents/{incident_id}/unlink", include_in_schema=False)
def unlink_form(
    request: Request,
    principal: Writer,
    incident_id: IncidentId,
    alert_id: Annotated[str, Form(max_length=100)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    return _form_action(
        request,
        lambda s: svc.unlink(s, principal, incident_id, alert_id, now=utcnow(), reason=reason),
        lambda _: f"/incidents/{incident_id}",
    )


# ---- helpers --------------------------------------------------------------------------------


def _form_action(request: Request, act: Callable[[Session], T], target: Callable[[T], str]) -> Response:
    """Run a change; redirect (303) on success, or show the refusal in the user's language."""
    try:
        with _db(request) as session:
            result = act(session)
            url = target(result)
    except svc.IncidentError as exc:
        return _refused(request, exc)
    return RedirectResponse(url, status_code=303)


def _refused(request: Request, exc: svc.IncidentError) -> HTMLResponse:
    return page(request, "error.html", 400, message=t(exc.key, lang_of(request), **exc.values))


def _int(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise Invalid(f"not a number: {text!r}")
    return int(text)


def _out(i: Incident, now: datetime) -> IncidentOut:
    return IncidentOut(
        id=i.id, title=i.title, agency=i.agency, severity=i.severity, serious=bool(i.serious),
        status=i.status, owner=i.owner, created_by=i.created_by, created_at=i.created_at,
        updated_at=i.updated_at, closed_at=i.closed_at, version=i.version,
        timers=[_timer(x) for x in svc.timers(i, now)],
    )  # fmt: skip


def _timer(x: svc.Timer) -> TimerOut:
    return TimerOut.model_validate(
        {"kind": x.kind, "due_at": x.due_at, "done_at": x.done_at, "state": x.state,
         "seconds_left": int(x.left.total_seconds())}
    )  # fmt: skip


def _detail(session: Session, principal: Principal, incident: Incident) -> IncidentDetail:
    now = utcnow()
    alerts = [_brief(a) for a in svc.alerts_of(session, principal, incident)]
    notes = [NoteOut(id=n.id, at=n.at, author=n.author, body=n.body) for n in svc.notes_of(session, incident)]
    return IncidentDetail(**_out(incident, now).model_dump(), alerts=alerts, notes=notes)


def _brief(a: Alert) -> AlertBrief:
    return AlertBrief(
        id=a.id, rule_id=a.rule_id, rule_title=a.rule_title, level=a.level, status=a.status, host=a.host,
        user_name=a.user_name, source_ip=a.source_ip, first_at=a.first_at, last_at=a.last_at,
    )  # fmt: skip


def _next_timer(i: Incident, now: datetime) -> svc.Timer | None:
    pending = [x for x in svc.timers(i, now) if x.state != "done"]
    return min(pending, key=lambda x: x.due_at) if pending else None


def _names(session: Session) -> dict[str, str]:
    return {a.code: a.name for a in accounts.list_agencies(session)}


def _left_text(request: Request) -> Callable[[svc.Timer], str]:
    """'23 h 10 min left' / 'overdue by 2 h 5 min' in the page's language."""
    lang = lang_of(request)

    def text(x: svc.Timer) -> str:
        span = abs(x.left)
        d, rest = divmod(int(span.total_seconds()) // 60, 1440)
        h, m = divmod(rest, 60)
        if d:
            amount = t("incidents.duration_dhm", lang, d=d, h=h, m=m)
        elif h:
            amount = t("incidents.duration_hm", lang, h=h, m=m)
        else:
            amount = t("incidents.duration_m", lang, m=m)
        return t("incidents.overdue" if x.left <= timedelta(0) else "incidents.left", lang, time=amount)

    return text
