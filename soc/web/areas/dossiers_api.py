"""The dossier JSON API under /api/v1/dossiers (the pages are in dossiers.py; both share its helpers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from soc.db.dossiers import Dossier, DossierDocument, DossierTransition
from soc.dossiers import browse, redetermine
from soc.dossiers.access import Actor
from soc.dossiers.detail import Detail, detail
from soc.dossiers.engine import DossierError
from soc.dossiers.service import DossierService
from soc.i18n import t
from soc.triage.principal import Invalid, Principal
from soc.web.areas import dossiers as pages  # pages.now(): one clock, patched in tests
from soc.web.areas.dossiers import (
    FILE_RESPONSE,
    MAX_ID,
    READ,
    WRITE,
    DocumentId,
    DossierId,
    IncidentId,
    NewSystem,
    SystemId,
    Version,
    _create,
    _download,
    _NewDossier,
    _record_regulation,
    actor_of,
    refused,
    service_of,
    unit,
)
from soc.web.render import lang_of

router = APIRouter()


class LevelOut(BaseModel):
    approved: int
    total: int


class StatusOut(BaseModel):
    headline: str
    approved: int
    total: int
    overdue: int
    by_level: dict[str, LevelOut]
    """"L3": {approved, total}."""
    by_state: dict[str, int]


class ClockOut(BaseModel):
    deadline: str
    title: str
    due_on: date
    working_days_left: int
    overdue: bool


class SystemOut(BaseModel):
    id: int
    name: str
    system_type: str
    proposed_level: int
    approved_level: int | None
    criteria_basis: str
    basic_subjects: int
    sensitive_subjects: int
    security_regulation_ref: str | None
    security_regulation_issued_on: date | None


class DossierOut(BaseModel):
    id: int
    title: str
    agency: str
    level: int
    state: str
    state_title: str
    playbook: str
    regime: str
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    legacy_deadline: date | None
    overdue: bool
    deadlines: list[ClockOut]
    url: str


class ActionOut(BaseModel):
    transition: str
    title: str
    role: str
    comment_required: bool
    form: str | None


class DocumentOut(BaseModel):
    id: int
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    download: str


class StepOut(BaseModel):
    name: str
    from_state: str
    to_state: str
    actor: str
    role: str
    body: str | None
    at: datetime
    comment: str
    form: str | None
    documents: list[dict[str, Any]]
    version: int


class DossierDetailOut(DossierOut):
    routing: dict[str, str]
    systems: list[SystemOut]
    actions: list[ActionOut]
    upload_kinds: list[str]
    missing_documents: list[str]
    documents: list[DocumentOut]
    history: list[StepOut]
    incidents: list[int]


class CreateIn(BaseModel):
    title: str = Field(default="", max_length=300)
    agency: str | None = Field(default=None, max_length=64)
    system_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = []
    system: NewSystem | None = None


class ActIn(BaseModel):
    transition: str = Field(max_length=64)
    version: int = Field(ge=0, le=MAX_ID)
    comment: str = ""


class RegulationIn(BaseModel):
    reference: str = Field(min_length=1, max_length=200)
    issued_on: date


class RedeterminationIn(BaseModel):
    incident_id: int = Field(ge=1, le=MAX_ID)
    dossier_id: int = Field(ge=1, le=MAX_ID)
    version: int | None = Field(default=None, ge=0, le=MAX_ID)
    comment: str = ""


class RedeterminationOut(BaseModel):
    incident_id: int
    dossier: DossierOut


@router.get("/api/v1/dossiers", tags=["dossiers"])
def api_list(
    request: Request,
    principal: Annotated[Principal, READ],
    state: str = "",
    agency: str = "",
    level: Annotated[int | None, Query(ge=1, le=5)] = None,
    overdue: bool = False,
) -> list[DossierOut]:
    service, actor = service_of(request), actor_of(principal)
    filters = browse.Filters(state or None, agency or None, level, overdue)
    with unit(request) as session:
        rows = browse.listing(session, service, actor, filters, pages.now())
        return [_out(service, r.dossier, r.clocks, lang_of(request)) for r in rows]


@router.get("/api/v1/dossiers/status", tags=["dossiers"])
def api_status(request: Request, principal: Annotated[Principal, READ]) -> StatusOut:
    with unit(request) as session:
        status = browse.headline(session, service_of(request), actor_of(principal), pages.now())
    return StatusOut(
        headline=status.headline(lang_of(request)), approved=status.approved, total=status.total,
        overdue=status.overdue, by_state=status.by_state,
        by_level={f"L{n}": LevelOut(approved=ok, total=all_) for n, (ok, all_) in status.by_level.items()},
    )  # fmt: skip


@router.get("/api/v1/dossiers/overdue", tags=["dossiers"])
def api_overdue(request: Request, principal: Annotated[Principal, READ]) -> list[DossierOut]:
    service = service_of(request)
    with unit(request) as session:
        rows = browse.overdue(session, service, actor_of(principal), pages.now())
        return [_out(service, r.dossier, r.clocks, lang_of(request)) for r in rows]


@router.post("/api/v1/dossiers", tags=["dossiers"], status_code=201)
def api_create(request: Request, principal: Annotated[Principal, WRITE], body: CreateIn) -> DossierDetailOut:
    service, actor = service_of(request), actor_of(principal)
    new = _NewDossier(title=body.title, agency=body.agency, system_ids=body.system_ids, system=body.system)
    if new.system is None and not new.system_ids:
        raise Invalid(t("dossiers.new.nothing", lang_of(request)))
    with unit(request) as session:
        try:
            dossier = _create(session, service, actor, new)
            return _detail_out(request, session, actor, dossier.id)
        except DossierError as exc:
            raise refused(request, exc) from None


@router.get("/api/v1/dossiers/{dossier_id}", tags=["dossiers"])
def api_detail(
    request: Request, principal: Annotated[Principal, READ], dossier_id: DossierId
) -> DossierDetailOut:
    with unit(request) as session:
        return _detail_out(request, session, actor_of(principal), dossier_id)


@router.post("/api/v1/dossiers/{dossier_id}/transitions", tags=["dossiers"])
def api_act(
    request: Request, principal: Annotated[Principal, WRITE], dossier_id: DossierId, body: ActIn
) -> DossierDetailOut:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            service.act(session, actor, dossier_id, body.transition, expected_version=body.version,
                        comment=body.comment, now=pages.now())  # fmt: skip
            return _detail_out(request, session, actor, dossier_id)
        except DossierError as exc:
            raise refused(request, exc) from None


@router.post("/api/v1/dossiers/{dossier_id}/documents", tags=["dossiers"], status_code=201)
def api_upload(
    request: Request,
    principal: Annotated[Principal, WRITE],
    dossier_id: DossierId,
    kind: Annotated[str, Form()],
    version: Version,
    file: Annotated[UploadFile, File()],
) -> DocumentOut:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            document = service.upload(
                session, actor, dossier_id, kind=kind, filename=file.filename or "",
                stream=file.file, expected_version=version, now=pages.now(),
            )  # fmt: skip
        except DossierError as exc:
            raise refused(request, exc) from None
        return _document_out(document)


@router.get(
    "/api/v1/dossiers/{dossier_id}/documents/{document_id}",
    tags=["dossiers"],
    response_class=Response,
    responses=FILE_RESPONSE,
)
def api_download(
    request: Request, principal: Annotated[Principal, READ], dossier_id: DossierId, document_id: DocumentId
) -> Response:
    return _download(request, principal, dossier_id, document_id)


@router.post("/api/v1/dossiers/{dossier_id}/systems/{system_id}/regulation", tags=["dossiers"])
def api_regulation(
    request: Request,
    principal: Annotated[Principal, WRITE],
    dossier_id: DossierId,
    system_id: SystemId,
    body: RegulationIn,
) -> DossierDetailOut:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            _record_regulation(session, service, actor, dossier_id, system_id, body.reference,
                               body.issued_on.isoformat(), lang_of(request))  # fmt: skip
            return _detail_out(request, session, actor, dossier_id)
        except DossierError as exc:
            raise refused(request, exc) from None
        except ValueError as exc:
            raise Invalid(str(exc)) from None


@router.get("/api/v1/dossiers/redetermination/{incident_id}", tags=["dossiers"])
def api_redetermination_choices(
    request: Request, principal: Annotated[Principal, READ], incident_id: IncidentId
) -> list[DossierOut]:
    """The incident agency's approved dossiers that a re-determination can be opened on."""
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            incident = redetermine.incident_for(session, actor, incident_id)
        except DossierError as exc:
            raise refused(request, exc) from None
        choices = redetermine.candidates(session, service, actor, incident)
        running = browse.clocks(session, service, choices, pages.now())
        return [_out(service, d, running[d.id], lang_of(request)) for d in choices]


@router.post("/api/v1/dossiers/redetermination", tags=["dossiers"])
def api_redetermination(
    request: Request, principal: Annotated[Principal, WRITE], body: RedeterminationIn
) -> RedeterminationOut:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            opened = redetermine.open_from_incident(
                session, service, actor, body.incident_id, body.dossier_id,
                comment=body.comment, expected_version=body.version, now=pages.now(),
            )  # fmt: skip
        except DossierError as exc:
            raise refused(request, exc) from None
        running = browse.clocks(session, service, [opened.dossier], pages.now())
        out = _out(service, opened.dossier, running[opened.dossier.id], lang_of(request))
        return RedeterminationOut(incident_id=body.incident_id, dossier=out)


def _out(service: DossierService, d: Dossier, clocks: Any, lang: str) -> DossierOut:
    return DossierOut(**_fields(service, d, clocks, lang))


def _fields(service: DossierService, d: Dossier, clocks: Any, lang: str) -> dict[str, Any]:
    playbook = service.playbook_of(d)
    running = [
        ClockOut(deadline=c.timer.deadline.name, title=c.timer.deadline.title.get(lang), due_on=c.due_on,
                 working_days_left=c.working_days_left, overdue=c.overdue)
        for c in clocks
    ]  # fmt: skip
    return {
        "id": d.id, "title": d.title, "agency": d.agency.code, "level": d.level, "state": d.state,
        "state_title": playbook.states[d.state].title.get(lang), "playbook": d.playbook_id,
        "regime": d.regime, "version": d.version, "created_by": d.created_by, "created_at": d.created_at,
        "updated_at": d.updated_at,
        "approved_at": d.approved_at, "legacy_deadline": d.legacy_deadline,
        "overdue": any(c.overdue for c in running), "deadlines": running, "url": f"/dossiers/{d.id}",
    }  # fmt: skip


def _detail_out(request: Request, session: Session, actor: Actor, dossier_id: int) -> DossierDetailOut:
    lang = lang_of(request)
    try:
        view: Detail = detail(session, service_of(request), actor, dossier_id, pages.now())
    except DossierError as exc:
        raise refused(request, exc) from None
    d = view.dossier
    return DossierDetailOut(
        **_fields(service_of(request), d, view.clocks, lang),
        routing={slot: str(d.routing[slot]) for slot, _ in view.routing},
        systems=[SystemOut.model_validate(s, from_attributes=True) for s in d.systems],
        actions=[
            ActionOut(
                transition=a.name,
                title=a.transition.title.get(lang),
                role=a.role,
                comment_required=a.transition.comment_required,
                form=a.transition.form,
            )
            for a in view.actions
        ],
        upload_kinds=list(view.upload_kinds),
        missing_documents=[n.kind for n in view.needed if not n.present],
        documents=[_document_out(x) for x in d.documents],
        history=[_step_out(s) for s in d.transitions],
        incidents=[i for i, _ in view.incidents],
    )


def _document_out(x: DossierDocument) -> DocumentOut:
    return DocumentOut(
        id=x.id, kind=x.kind, filename=x.filename, content_type=x.content_type, size_bytes=x.size_bytes,
        sha256=x.sha256, uploaded_by=x.uploaded_by, uploaded_at=x.uploaded_at,
        download=f"/api/v1/dossiers/{x.dossier_id}/documents/{x.id}",
    )  # fmt: skip


def _step_out(s: DossierTransition) -> StepOut:
    return StepOut(
        name=s.name, from_state=s.from_state, to_state=s.to_state, actor=s.actor, role=s.role, body=s.body,
        at=s.at, comment=s.comment, form=s.form, documents=list(s.documents), version=s.version,
    )  # fmt: skip
