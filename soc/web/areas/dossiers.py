"""Security-level dossiers: the scoped list with the headline, the overdue list, one dossier (act,
upload, download, record the security regulation), creating one, the XLSX/CSV reports and
re-determination from an incident — pages under /dossiers and the same as JSON under
/api/v1/dossiers. Who sees and may do what is decided in soc.dossiers, never here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from soc.db import accounts
from soc.db.dossiers import Dossier, InformationSystem
from soc.db.models import Agency, utcnow
from soc.db.session import session_scope
from soc.dossiers import browse, redetermine, report, uploads, workbook
from soc.dossiers.access import Actor
from soc.dossiers.detail import SYSTEM_TYPES, detail
from soc.dossiers.engine import DossierError
from soc.dossiers.playbook import LEVELS
from soc.dossiers.service import DossierService
from soc.i18n import MESSAGES, t
from soc.triage.principal import Conflict, Forbidden, Invalid, NotFound, Principal
from soc.web.auth import reader, writer
from soc.web.render import lang_of, page

router = APIRouter()
READ = Depends(reader("dossiers.read"))
WRITE = Depends(writer("dossiers.read"))
"""Every dossier role may try; the service decides what each may actually do."""
STATUS = {
    "not_found": 404,
    "incident_not_found": 404,
    "forbidden": 403,
    "stale": 409,
    "upload_too_large": 413,
}
MAX_ID = 2_147_483_647
"""Ids are 32-bit integers in PostgreSQL; anything larger is no id of ours (404, never a 500)."""
DossierId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
DocumentId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
SystemId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
IncidentId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
FormId = Annotated[int, Form(ge=1, le=MAX_ID)]
Version = Annotated[int, Form(ge=0, le=MAX_ID)]
SAFE_TYPES = {content_type for content_type, _ in uploads.ALLOWED.values()}
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the document as an attachment, with the type its extension was checked against",
        "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in sorted(SAFE_TYPES)}
        | {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def now() -> datetime:
    """The clock deadlines are measured against (tests replace it)."""
    return utcnow()


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.username, principal.grants)


def service_of(request: Request) -> DossierService:
    service: DossierService = request.app.state.dossiers
    return service


@contextmanager
def unit(request: Request) -> Iterator[Session]:
    """One transaction; a concurrent writer's change shows up as a 409 like a stale form."""
    try:
        with session_scope(request.app.state.db) as session:
            yield session
    except StaleDataError:
        raise Conflict(t("dossiers.stale", lang_of(request))) from None


def refused(request: Request, exc: DossierError) -> Exception:
    """The error page or JSON answer a refusal maps to."""
    message = exc.reason.render(lang_of(request))
    status = STATUS.get(exc.key, 400)
    if status == 404:
        return NotFound(message)
    if status == 403:
        return Forbidden(message)
    if status == 409:
        return Conflict(message)
    return Invalid(message)


# Pages ----------------------------------------------------------------------------------------


def filters_of(state: str, agency: str, level: str, overdue: str) -> browse.Filters:
    return browse.Filters(
        state=state or None,
        agency=agency or None,
        level=int(level) if level.isdigit() else None,
        overdue=overdue in ("1", "on", "true"),
    )


@router.get("/dossiers", response_class=HTMLResponse, include_in_schema=False)
def list_page(
    request: Request,
    principal: Annotated[Principal, READ],
    state: str = "",
    agency: str = "",
    level: str = "",
    overdue: str = "",
) -> HTMLResponse:
    service, actor, at = service_of(request), actor_of(principal), now()
    filters = filters_of(state, agency, level, overdue)
    with unit(request) as session:
        rows = browse.listing(session, service, actor, filters, at)
        every = service.visible(session, actor)
        return page(
            request, "pages/dossiers_list.html",
            rows=rows, filters=filters, status=browse.headline(session, service, actor, at),
            agencies=browse.agencies_of(every), states=_states(service), levels=LEVELS,
            titles=_state_titles(service, lang_of(request)), creator=_officer_agencies(actor),
            query=request.url.query,
        )  # fmt: skip


@router.get("/dossiers/overdue", response_class=HTMLResponse, include_in_schema=False)
def overdue_page(request: Request, principal: Annotated[Principal, READ]) -> HTMLResponse:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        rows = browse.overdue(session, service, actor, now())
        return page(request, "pages/dossiers_overdue.html", rows=rows,
                    titles=_state_titles(service, lang_of(request)))  # fmt: skip


@router.get("/dossiers/new", response_class=HTMLResponse, include_in_schema=False)
def new_page(request: Request, principal: Annotated[Principal, READ]) -> HTMLResponse:
    actor = actor_of(principal)
    if not _officer_agencies(actor):
        raise Forbidden("only agency officers create dossiers")
    with unit(request) as session:
        return _new_form(request, session, actor, {})


@router.post("/dossiers/new", include_in_schema=False)
def create_page(
    request: Request,
    principal: Annotated[Principal, WRITE],
    title: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
    system_id: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    name: Annotated[str, Form()] = "",
    system_type: Annotated[str, Form()] = "other",
    proposed_level: Annotated[str, Form()] = "",
    criteria_basis: Annotated[str, Form()] = "",
    basic_subjects: Annotated[str, Form()] = "",
    sensitive_subjects: Annotated[str, Form()] = "",
) -> Response:
    actor, lang = actor_of(principal), lang_of(request)
    form = {
        "title": title, "agency": agency, "name": name, "system_type": system_type,
        "proposed_level": proposed_level, "criteria_basis": criteria_basis,
        "basic_subjects": basic_subjects, "sensitive_subjects": sensitive_subjects,
    }  # fmt: skip
    with unit(request) as session:
        try:
            dossier = _create(session, service_of(request), actor, _NewDossier.of_form(form, system_id, lang))
        except (DossierError, ValueError) as exc:
            session.rollback()
            message = exc.reason.render(lang) if isinstance(exc, DossierError) else str(exc)
            return _new_form(request, session, actor, form, message, 400)
        return RedirectResponse(f"/dossiers/{dossier.id}?done=created", status_code=303)


@router.get("/dossiers/report.xlsx", include_in_schema=False)
def report_xlsx(request: Request, principal: Annotated[Principal, READ], lang: str = "") -> Response:
    service, actor = service_of(request), actor_of(principal)
    language = lang if lang in ("en", "vi") else lang_of(request)
    with unit(request) as session:
        scope = browse.scope_of(service, session, actor)
        body = workbook.status_workbook(session, service, now(), language, scope)
    name = f"dossiers-{service.calendar.local_date(now()):%Y%m%d}.xlsx"
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers=_attachment(name))  # fmt: skip


@router.get("/dossiers/report.csv", include_in_schema=False)
def report_csv(request: Request, principal: Annotated[Principal, READ], lang: str = "") -> Response:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        scope = browse.scope_of(service, session, actor)
        body = report.annual_csv(session, service, scope, lang if lang in ("en", "vi") else None)
    name = f"form-08-{service.calendar.local_date(now()):%Y%m%d}.csv"
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=_attachment(name))


@router.get("/dossiers/redetermination", response_class=HTMLResponse, include_in_schema=False)
def redetermination_page(
    request: Request,
    principal: Annotated[Principal, READ],
    incident_id: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> HTMLResponse:
    with unit(request) as session:
        return _chooser(request, session, actor_of(principal), incident_id)


@router.post("/dossiers/redetermination", include_in_schema=False)
def redetermination(
    request: Request,
    principal: Annotated[Principal, WRITE],
    incident_id: FormId,
    dossier_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
    version: Annotated[int | None, Form(ge=0, le=MAX_ID)] = None,
    comment: Annotated[str, Form()] = "",
) -> Response:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            incident = redetermine.incident_for(session, actor, incident_id)
            choices = redetermine.candidates(session, service, actor, incident)
            if dossier_id is None and len(choices) == 1:
                dossier_id, version = choices[0].id, choices[0].version
            if dossier_id is None:
                return _chooser(request, session, actor, incident_id, comment=comment)
            opened = redetermine.open_from_incident(
                session, service, actor, incident_id, dossier_id,
                comment=comment, expected_version=version, now=now(),
            )  # fmt: skip
            return RedirectResponse(f"/dossiers/{opened.dossier.id}?done=redetermination", status_code=303)
        except DossierError as exc:
            if exc.key in ("stale", "no_approved_dossier", "not_incident_agency", "not_allowed_here"):
                session.rollback()
                message = exc.reason.render(lang_of(request))
                return _chooser(
                    request, session, actor, incident_id, message, STATUS.get(exc.key, 400), comment
                )
            raise refused(request, exc) from None


@router.get("/dossiers/{dossier_id}", response_class=HTMLResponse, include_in_schema=False)
def detail_page(
    request: Request, principal: Annotated[Principal, READ], dossier_id: DossierId, done: str = ""
) -> HTMLResponse:
    with unit(request) as session:
        return _detail(request, session, actor_of(principal), dossier_id, notice=done)


@router.post("/dossiers/{dossier_id}/transitions", include_in_schema=False)
def act_page(
    request: Request,
    principal: Annotated[Principal, WRITE],
    dossier_id: DossierId,
    transition: Annotated[str, Form()],
    version: Version,
    comment: Annotated[str, Form()] = "",
) -> Response:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            service.act(
                session, actor, dossier_id, transition, expected_version=version, comment=comment, now=now()
            )
        except DossierError as exc:
            return _after_refusal(
                request, session, actor, dossier_id, exc, comment=comment, transition=transition
            )
    return RedirectResponse(f"/dossiers/{dossier_id}?done={quote(transition)}", status_code=303)


@router.post("/dossiers/{dossier_id}/documents", include_in_schema=False)
def upload_page(
    request: Request,
    principal: Annotated[Principal, WRITE],
    dossier_id: DossierId,
    kind: Annotated[str, Form()],
    version: Version,
    file: Annotated[UploadFile, File()],
) -> Response:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            service.upload(session, actor, dossier_id, kind=kind, filename=file.filename or "",
                           stream=file.file, expected_version=version, now=now())  # fmt: skip
        except DossierError as exc:
            return _after_refusal(request, session, actor, dossier_id, exc)
    return RedirectResponse(f"/dossiers/{dossier_id}?done=upload#documents", status_code=303)


@router.get("/dossiers/{dossier_id}/documents/{document_id}", include_in_schema=False)
def download_page(
    request: Request, principal: Annotated[Principal, READ], dossier_id: DossierId, document_id: DocumentId
) -> Response:
    return _download(request, principal, dossier_id, document_id)


@router.post("/dossiers/{dossier_id}/systems/{system_id}/regulation", include_in_schema=False)
def regulation_page(
    request: Request,
    principal: Annotated[Principal, WRITE],
    dossier_id: DossierId,
    system_id: SystemId,
    reference: Annotated[str, Form()],
    issued_on: Annotated[str, Form()],
) -> Response:
    service, actor = service_of(request), actor_of(principal)
    with unit(request) as session:
        try:
            _record_regulation(
                session, service, actor, dossier_id, system_id, reference, issued_on, lang_of(request)
            )
        except DossierError as exc:
            return _after_refusal(request, session, actor, dossier_id, exc)
        except ValueError as exc:
            session.rollback()
            return _detail(request, session, actor, dossier_id, error=str(exc), status_code=400)
    return RedirectResponse(f"/dossiers/{dossier_id}?done=regulation", status_code=303)


# Page helpers -----------------------------------------------------------------------------------


def _detail(
    request: Request, session: Session, actor: Actor, dossier_id: int, *, error: str = "",
    status_code: int = 200, notice: str = "", comment: str = "", transition: str = "",
) -> HTMLResponse:  # fmt: skip
    try:
        view = detail(session, service_of(request), actor, dossier_id, now())
    except DossierError as exc:
        raise refused(request, exc) from None
    lang = lang_of(request)
    return page(
        request, "pages/dossiers_detail.html", status_code=status_code,
        view=view, d=view.dossier, error=error, notice=notice, comment=comment, failed=transition,
        say=lambda text: text.get(lang) if text is not None else "",
        has=lambda key: key in MESSAGES,
        accept=",".join(uploads.ALLOWED), max_mb=service_of(request).max_upload_bytes // (1024 * 1024),
    )  # fmt: skip


def _after_refusal(
    request: Request, session: Session, actor: Actor, dossier_id: int, exc: DossierError, **kept: str
) -> HTMLResponse:
    """Show the dossier again, as it is now, with why the action was refused (409 when stale)."""
    status = STATUS.get(exc.key, 400)
    if status in (403, 404):
        raise refused(request, exc) from None
    session.rollback()
    message = exc.reason.render(lang_of(request))
    if exc.key == "stale":
        message = t("dossiers.stale", lang_of(request)) + " " + message
    return _detail(request, session, actor, dossier_id, error=message, status_code=status, **kept)


def _chooser(
    request: Request, session: Session, actor: Actor, incident_id: int, error: str = "",
    status_code: int = 200, comment: str = "",
) -> HTMLResponse:  # fmt: skip
    service = service_of(request)
    try:
        incident = redetermine.incident_for(session, actor, incident_id)
    except DossierError as exc:
        raise refused(request, exc) from None
    choices = redetermine.candidates(session, service, actor, incident)
    return page(
        request, "pages/dossiers_redetermination.html", status_code=status_code,
        incident=incident, choices=choices, error=error, comment=comment,
        titles=_state_titles(service, lang_of(request)),
    )  # fmt: skip


def _new_form(
    request: Request,
    session: Session,
    actor: Actor,
    form: dict[str, str],
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    agencies = _officer_agencies(actor)
    systems = session.scalars(
        select(InformationSystem)
        .where(InformationSystem.agency_id.in_(agencies))
        .order_by(InformationSystem.name)
    ).all()
    names = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(agencies)))}
    return page(
        request, "pages/dossiers_new.html", status_code=status_code,
        agencies=[names[a] for a in sorted(agencies) if a in names], systems=systems, types=SYSTEM_TYPES,
        levels=LEVELS, form=form, error=error,
    )  # fmt: skip


def _download(request: Request, principal: Principal, dossier_id: int, document_id: int) -> Response:
    service = service_of(request)
    with unit(request) as session:
        try:
            path, document = service.document_path(session, actor_of(principal), document_id)
        except DossierError as exc:
            raise refused(request, exc) from None
        if document.dossier_id != dossier_id or not path.is_file():
            raise NotFound("no such document")
        filename, content_type = document.filename, document.content_type
    # The type comes from the upload allow-list; anything else is served as opaque bytes.
    media = content_type if content_type in SAFE_TYPES else "application/octet-stream"
    headers = _attachment(filename) | {"Content-Security-Policy": "default-src 'none'; sandbox"}
    return FileResponse(path, media_type=media, headers=headers, content_disposition_type="attachment")


def _attachment(filename: str) -> dict[str, str]:
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename) or "file"
    return {
        "Content-Disposition": f'attachment; filename="{fallback}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def _officer_agencies(actor: Actor) -> list[int]:
    return sorted(a for r, a in actor.grants if r == "agency_officer" and a is not None)


def _states(service: DossierService) -> list[str]:
    seen: list[str] = []
    for playbook in service.library.playbooks.values():
        if playbook.kind == "dossier":
            seen.extend(s for s in playbook.states if s not in seen)
    return seen


def _state_titles(service: DossierService, lang: str) -> dict[str, str]:
    titles: dict[str, str] = {}
    for playbook in service.library.playbooks.values():
        if playbook.kind == "dossier":
            for name, state in playbook.states.items():
                titles.setdefault(name, state.title.get(lang))
    return titles


# Creating -----------------------------------------------------------------------------------------


class NewSystem(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    system_type: str = Field(default="other", max_length=64)
    proposed_level: int = Field(ge=1, le=5)
    criteria_basis: str = ""
    basic_subjects: int = Field(default=0, ge=0, le=MAX_ID)
    sensitive_subjects: int = Field(default=0, ge=0, le=MAX_ID)


class _NewDossier(BaseModel):
    title: str = Field(default="", max_length=300)
    agency: str | None = Field(default=None, max_length=64)
    """Agency code; needed only by officers of more than one agency."""
    system_ids: list[int] = []
    system: NewSystem | None = None

    @classmethod
    def of_form(cls, form: dict[str, str], chosen: list[int], lang: str) -> _NewDossier:
        system = None
        if form.get("name", "").strip():
            try:
                system = NewSystem(
                    name=form["name"].strip(), system_type=form.get("system_type", "other"),
                    proposed_level=int(form.get("proposed_level", "0")),
                    criteria_basis=form.get("criteria_basis", ""),
                    basic_subjects=int(form.get("basic_subjects") or 0),
                    sensitive_subjects=int(form.get("sensitive_subjects") or 0),
                )  # fmt: skip
            except ValueError:
                raise ValueError(t("dossiers.new.invalid", lang)) from None
        if system is None and not chosen:
            raise ValueError(t("dossiers.new.nothing", lang))
        try:
            return cls(title=form.get("title", ""), agency=form.get("agency") or None, system_ids=chosen,
                       system=system)  # fmt: skip
        except ValueError:
            raise ValueError(t("dossiers.new.invalid", lang)) from None


def _create(session: Session, service: DossierService, actor: Actor, new: _NewDossier) -> Dossier:
    agencies = _officer_agencies(actor)
    if new.agency:
        found = accounts.get_agency_by_code(session, new.agency)
        agency_id = found.id if found is not None and found.id in agencies else None
    else:
        agency_id = agencies[0] if len(agencies) == 1 else None
    if agency_id is None:
        raise Forbidden("choose one of your agencies")
    ids = list(new.system_ids)
    if new.system is not None:
        system = service.add_system(session, actor, agency_id=agency_id, **new.system.model_dump())
        ids.append(system.id)
    return service.create(session, actor, title=new.title, system_ids=ids, now=now())


def _record_regulation(
    session: Session, service: DossierService, actor: Actor, dossier_id: int, system_id: int,
    reference: str, issued_on: str, lang: str,
) -> None:  # fmt: skip
    dossier = service.get(session, actor, dossier_id)
    if system_id not in {s.id for s in dossier.systems}:
        raise NotFound("no such system in this dossier")
    try:
        day = date.fromisoformat(issued_on)
    except ValueError:
        raise ValueError(t("dossiers.regulation.bad_date", lang)) from None
    if not reference.strip():
        raise ValueError(t("dossiers.regulation.no_reference", lang))
    service.record_security_regulation(session, actor, system_id, reference=reference, issued_on=day)
