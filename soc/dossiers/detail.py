"""One dossier as a reader sees it: what it is, where it stands, what this reader may do next, what
documents the next steps need, and which clocks are running. Front ends render this; they decide
nothing themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from soc.db.dossiers import Dossier
from soc.dossiers import redetermine
from soc.dossiers.access import Actor, open_transitions
from soc.dossiers.browse import Clock, clocks
from soc.dossiers.playbook import Playbook, Text, Transition
from soc.dossiers.service import DossierService

SYSTEM_TYPES = (
    "internal",
    "public_information",
    "online_service",
    "public_service",
    "infrastructure",
    "other",
)
"""What the create form offers (the service stores any short text)."""


@dataclass(frozen=True)
class Action:
    transition: Transition
    role: str
    form: Text | None

    @property
    def name(self) -> str:
        return self.transition.name


@dataclass(frozen=True)
class Needed:
    """A document kind the next steps of this dossier require at its level."""

    kind: str
    title: Text
    present: bool


@dataclass(frozen=True)
class Detail:
    dossier: Dossier
    playbook: Playbook
    actions: tuple[Action, ...]
    upload_kinds: tuple[str, ...]
    needed: tuple[Needed, ...]
    clocks: tuple[Clock, ...]
    routing: tuple[tuple[str, Text], ...]
    """(slot, body) for appraise, approve, opinion."""
    incidents: tuple[tuple[int, str], ...]
    may_record_regulation: bool

    def state_title(self, state: str) -> Text:
        found = self.playbook.states.get(state)
        return found.title if found else Text(state, state)

    def document_title(self, kind: str) -> Text:
        return self.playbook.documents.get(kind, Text(kind, kind))

    def form_title(self, form: str | None) -> Text | None:
        return self.playbook.forms.get(form) if form else None


def detail(session: Session, service: DossierService, actor: Actor, dossier_id: int, now: datetime) -> Detail:
    """The dossier if the actor may see it (DossierError "not_found" otherwise)."""
    dossier = service.get(session, actor, dossier_id)
    playbook = service.playbook_of(dossier)
    directory = service.directory(session)
    actions = tuple(
        Action(t, role, playbook.forms.get(t.form) if t.form else None)
        for t, role in open_transitions(playbook, actor, dossier, directory)
    )
    present = {d.kind for d in dossier.documents}
    wanted: list[str] = []
    for transition in playbook.transitions_from(dossier.state):
        for kind in playbook.required_documents.get(transition.name, {}).get(dossier.level, ()):
            if kind not in wanted:
                wanted.append(kind)
    needed = tuple(Needed(k, playbook.documents[k], k in present) for k in wanted if k in playbook.documents)
    routing = tuple(
        (slot, playbook.bodies.get(body, Text(body, body)))
        for slot, body in sorted(dossier.routing.items())
        if isinstance(body, str)
    )
    return Detail(
        dossier=dossier,
        playbook=playbook,
        actions=actions,
        upload_kinds=tuple(service.upload_kinds(session, actor, dossier)),
        needed=needed,
        clocks=tuple(clocks(session, service, [dossier], now)[dossier.id]),
        routing=routing,
        incidents=tuple(redetermine.incidents_of(session, dossier)),
        may_record_regulation=actor.holds("agency_officer", dossier.agency_id),
    )
