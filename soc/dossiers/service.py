"""The dossier service: what officers, appraisers and approvers do, with access checked here.

Front ends (CLI, API, web) call these methods with an `Actor` and a session; each call is one
unit of work the caller commits. Every change writes an audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db import accounts, audit
from soc.db.dossiers import Dossier, DossierDocument, DossierTransition, InformationSystem
from soc.db.models import utcnow
from soc.dossiers import legacy, uploads
from soc.dossiers.access import Actor, Directory, can_see, open_transitions, route
from soc.dossiers.calendar import WorkingCalendar, from_settings
from soc.dossiers.engine import DossierError, refuse, take
from soc.dossiers.library import Library, load_library
from soc.dossiers.playbook import LEVELS, Playbook, Transition
from soc.settings import Settings


@dataclass(frozen=True)
class DossierService:
    library: Library
    bodies: str
    """`body=agency_code,…` (settings.dossier_bodies), resolved per session."""
    calendar: WorkingCalendar
    upload_dir: Path
    max_upload_bytes: int
    regime: str = ""
    base_url: str = ""
    """Public URL of the service, for links in e-mails (`{base_url}/dossiers/{id}`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> DossierService:
        folder = Path(settings.playbooks_dir) if settings.playbooks_dir else None
        return cls(
            library=load_library(folder, settings.lang),
            bodies=settings.dossier_bodies,
            calendar=from_settings(settings),
            upload_dir=settings.data_dir / "dossiers",
            max_upload_bytes=settings.dossier_upload_max_bytes,
            regime=settings.dossier_regime,
            base_url=(settings.base_url or f"http://{settings.host}:{settings.port}").rstrip("/"),
        )

    def directory(self, session: Session) -> Directory:
        return Directory.parse(session, self.bodies)

    def actor(self, session: Session, username: str) -> Actor:
        return Actor.of(accounts.require_user(session, username))

    def playbook_of(self, dossier: Dossier) -> Playbook:
        return self.library.get(dossier.playbook_id)

    def link(self, dossier_id: int) -> str:
        """The dossier's page in the web app (absolute when a base URL is known)."""
        return f"{self.base_url}/dossiers/{dossier_id}"

    # Information systems -------------------------------------------------------------------

    def add_system(
        self,
        session: Session,
        actor: Actor,
        *,
        agency_id: int,
        name: str,
        system_type: str,
        proposed_level: int,
        criteria_basis: str = "",
        basic_subjects: int = 0,
        sensitive_subjects: int = 0,
        operator_agency_id: int | None = None,
    ) -> InformationSystem:
        if not actor.holds("agency_officer", agency_id) and not actor.holds("admin", anywhere=True):
            raise refuse("forbidden", user=actor.username, action="add_system", id="-")
        if not name.strip() or proposed_level not in LEVELS or min(basic_subjects, sensitive_subjects) < 0:
            raise refuse("bad_input", what="system", why="name, level 1-5 and subject counts >= 0 required")
        taken = select(InformationSystem.id).where(
            InformationSystem.agency_id == agency_id, InformationSystem.name == name.strip()
        )
        if session.scalar(taken) is not None:
            raise refuse(
                "bad_input", what="system", why=f"the agency already has a system named '{name.strip()}'"
            )
        system = InformationSystem(
            agency_id=agency_id,
            operator_agency_id=operator_agency_id,
            name=name.strip(),
            system_type=system_type.strip(),
            proposed_level=proposed_level,
            criteria_basis=criteria_basis,
            basic_subjects=basic_subjects,
            sensitive_subjects=sensitive_subjects,
        )
        session.add(system)
        session.flush()
        audit.record(
            session,
            actor=actor.username,
            action="system.create",
            target_type="information_system",
            target_id=system.id,
            agency_id=agency_id,
            detail={"name": system.name, "type": system.system_type, "level": proposed_level},
        )
        return system

    def record_security_regulation(
        self, session: Session, actor: Actor, system_id: int, *, reference: str, issued_on: date
    ) -> InformationSystem:
        system = session.get(InformationSystem, system_id)
        if system is None or not actor.holds("agency_officer", system.agency_id):
            raise refuse("forbidden", user=actor.username, action="record_security_regulation", id=system_id)
        system.security_regulation_ref = reference.strip()
        system.security_regulation_issued_on = issued_on
        audit.record(
            session,
            actor=actor.username,
            action="system.security_regulation",
            target_type="information_system",
            target_id=system.id,
            agency_id=system.agency_id,
            detail={"reference": system.security_regulation_ref, "issued_on": issued_on},
        )
        return system

    # Dossiers ---------------------------------------------------------------------------------

    def create(
        self,
        session: Session,
        actor: Actor,
        *,
        title: str,
        system_ids: Sequence[int],
        playbook_id: str | None = None,
        now: datetime | None = None,
    ) -> Dossier:
        """A draft dossier for one or more systems of one agency; its level is the highest proposed."""
        system_ids = list(dict.fromkeys(system_ids))
        systems = [session.get(InformationSystem, i) for i in system_ids]
        found = [s for s in systems if s is not None]
        if not found or len(found) != len(system_ids) or len({s.agency_id for s in found}) != 1:
            raise refuse("bad_input", what="systems", why="one or more systems of a single agency")
        agency_id = found[0].agency_id
        if not actor.holds("agency_officer", agency_id):
            raise refuse("forbidden", user=actor.username, action="create", id="-")
        playbook = self._playbook_for_new(playbook_id)
        level = max(s.proposed_level for s in found)
        at = now or utcnow()
        dossier = Dossier(
            agency_id=agency_id,
            playbook_id=playbook.id,
            regime=playbook.regime,
            title=title.strip() or found[0].name,
            level=level,
            state=playbook.initial,
            created_by=actor.username,
            routing=route(playbook, level, {s.operator_id for s in found}, self.directory(session)),
            created_at=at,
            updated_at=at,
            state_entered_at=at,
            systems=found,
            version=1,
        )
        session.add(dossier)
        session.flush()
        audit.record(
            session,
            actor=actor.username,
            action="dossier.create",
            target_type="dossier",
            target_id=dossier.id,
            agency_id=agency_id,
            at=at,
            detail={"playbook": playbook.id, "level": level, "systems": [s.id for s in found]},
        )
        return dossier

    def import_legacy(
        self,
        session: Session,
        actor: Actor,
        *,
        system_ids: Sequence[int],
        approved_on: date,
        now: datetime | None = None,
    ) -> Dossier:
        playbook = self._playbook_for_new(None)
        return legacy.import_legacy(
            session, playbook, self.directory(session), actor,
            system_ids=system_ids, approved_on=approved_on, now=now,
        )  # fmt: skip

    def get(self, session: Session, actor: Actor, dossier_id: int) -> Dossier:
        """The dossier if the actor may see it; otherwise "not found", so existence does not leak."""
        dossier = session.get(Dossier, dossier_id)
        if dossier is None or not can_see(actor, dossier, self.directory(session)):
            raise refuse("not_found", id=dossier_id)
        return dossier

    def visible(self, session: Session, actor: Actor, state: str | None = None) -> list[Dossier]:
        query = select(Dossier).order_by(Dossier.id)
        if state is not None:
            query = query.where(Dossier.state == state)
        directory = self.directory(session)
        return [d for d in session.scalars(query) if can_see(actor, d, directory)]

    def actions(self, session: Session, actor: Actor, dossier: Dossier) -> list[Transition]:
        """The transitions this actor could take now (guards are checked when they try)."""
        directory = self.directory(session)
        return [t for t, _ in open_transitions(self.playbook_of(dossier), actor, dossier, directory)]

    def act(
        self,
        session: Session,
        actor: Actor,
        dossier_id: int,
        transition: str,
        *,
        expected_version: int,
        comment: str = "",
        now: datetime | None = None,
    ) -> DossierTransition:
        dossier = self.get(session, actor, dossier_id)
        return take(
            session,
            self.playbook_of(dossier),
            self.directory(session),
            actor,
            dossier,
            transition,
            expected_version=expected_version,
            comment=comment,
            now=now,
        )

    def history(self, session: Session, actor: Actor, dossier_id: int) -> list[DossierTransition]:
        return list(self.get(session, actor, dossier_id).transitions)

    def _playbook_for_new(self, playbook_id: str | None) -> Playbook:
        if playbook_id:
            return self.library.get(playbook_id)
        if self.regime:
            return self.library.by_regime(self.regime)
        return self.library.default("dossier")

    # Documents --------------------------------------------------------------------------------

    def upload(
        self,
        session: Session,
        actor: Actor,
        dossier_id: int,
        *,
        kind: str,
        filename: str,
        stream: BinaryIO,
        expected_version: int,
        now: datetime | None = None,
    ) -> DossierDocument:
        dossier = self.get(session, actor, dossier_id)
        playbook = self.playbook_of(dossier)
        if expected_version != dossier.version:
            raise refuse("stale", id=dossier.id, seen=expected_version, current=dossier.version)
        open_roles = self._upload_roles(session, actor, dossier)
        if not open_roles:
            raise refuse("upload_closed", state=dossier.state)
        if kind not in playbook.documents or not open_roles & set(playbook.uploaders.get(kind, ())):
            raise refuse("upload_kind", user=actor.username, kind=kind)
        folder = self.upload_dir / str(dossier.id)
        try:
            stored = uploads.store(folder, filename, stream, self.max_upload_bytes)
        except uploads.UploadRefused as exc:
            raise DossierError(exc.reason) from None
        same = next((d for d in dossier.documents if d.sha256 == stored.sha256), None)
        if same is not None:
            uploads.discard(folder, stored.stored_name)
            raise refuse("upload_duplicate", id=dossier.id, name=same.filename)
        at = now or utcnow()
        document = DossierDocument(
            dossier=dossier,
            kind=kind,
            filename=stored.filename,
            stored_name=stored.stored_name,
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            uploaded_by=actor.username,
            uploaded_at=at,
        )
        session.add(document)
        dossier.updated_at = at
        dossier.version += 1
        session.flush()
        audit.record(
            session,
            actor=actor.username,
            action="dossier.upload",
            target_type="dossier",
            target_id=dossier.id,
            agency_id=dossier.agency_id,
            at=at,
            detail={
                "kind": kind,
                "filename": stored.filename,
                "sha256": stored.sha256,
                "size": stored.size_bytes,
                "version": dossier.version,
            },
        )
        return document

    def upload_kinds(self, session: Session, actor: Actor, dossier: Dossier) -> list[str]:
        """The document kinds this actor may upload to the dossier now (empty: none)."""
        playbook = self.playbook_of(dossier)
        roles = self._upload_roles(session, actor, dossier)
        return [kind for kind in playbook.documents if roles & set(playbook.uploaders.get(kind, ()))]

    def _upload_roles(self, session: Session, actor: Actor, dossier: Dossier) -> set[str]:
        # Documents change only while it is the uploader's turn to move the dossier on (withdrawing
        # does not count): an officer cannot swap files under an appraiser's feet.
        playbook = self.playbook_of(dossier)
        turns = open_transitions(playbook, actor, dossier, self.directory(session))
        return {role for t, role in turns if not playbook.states[t.target].final}

    def document_path(self, session: Session, actor: Actor, document_id: int) -> tuple[Path, DossierDocument]:
        """Where to read a document from, if the actor may see its dossier (serve as attachment)."""
        document = session.get(DossierDocument, document_id)
        if document is None:
            raise refuse("not_found", id=document_id)
        self.get(session, actor, document.dossier_id)
        return self.upload_dir / str(document.dossier_id) / Path(document.stored_name).name, document
