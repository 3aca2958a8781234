"""Taking a playbook transition on a dossier: who may, whether the guards allow it, whether the
caller's view is current, and what gets recorded (transition log row and audit entry).

Everything that can refuse raises `DossierError` with a `Refusal`, which reads in either language.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.dossiers import Dossier, DossierTransition
from soc.db.models import utcnow
from soc.dossiers.access import Actor, Directory, can_see, open_transitions
from soc.dossiers.guards import GUARDS, GuardContext
from soc.dossiers.messages import Refusal, refusal
from soc.dossiers.playbook import AGENCY, Playbook
from soc.errors import SocError


class DossierError(SocError):
    """A dossier action refused; `reason.render(lang)` says why in English or Vietnamese."""

    def __init__(self, reason: Refusal) -> None:
        self.reason = reason
        super().__init__(reason.render("en"))

    @property
    def key(self) -> str:
        return self.reason.key


def refuse(key: str, **args: object) -> DossierError:
    return DossierError(refusal(key, **args))


def take(
    session: Session,
    playbook: Playbook,
    directory: Directory,
    actor: Actor,
    dossier: Dossier,
    name: str,
    *,
    expected_version: int,
    comment: str = "",
    now: datetime | None = None,
) -> DossierTransition:
    """Move the dossier along transition `name`; refuse with the first reason that applies."""
    if not can_see(actor, dossier, directory):
        raise refuse("not_found", id=dossier.id)
    if expected_version != dossier.version:
        raise refuse("stale", id=dossier.id, seen=expected_version, current=dossier.version)
    transition = playbook.transitions.get(name)
    if transition is None or dossier.state not in transition.sources:
        raise refuse("not_allowed_here", transition=name, state=dossier.state)
    if dossier.level not in transition.levels:
        raise refuse("not_for_level", transition=name, level=dossier.level)
    roles = {t.name: role for t, role in open_transitions(playbook, actor, dossier, directory)}
    role = roles.get(name)
    if role is None:
        raise refuse("forbidden", user=actor.username, action=name, id=dossier.id)
    comment = comment.strip()
    if transition.comment_required and not comment:
        raise refuse("comment_required", transition=name)
    body = dossier.routing.get(transition.acting_as) if transition.acting_as != AGENCY else None
    ctx = GuardContext(
        playbook=playbook,
        transition=transition,
        dossier=dossier,
        role=role,
        actor_agencies=actor.agencies,
        body_agency_id=directory.agency_of(body) if body else None,
    )
    for guard in transition.guards:
        reason = GUARDS[guard](ctx)
        if reason is not None:
            raise DossierError(reason)

    at = now or utcnow()
    source = dossier.state
    dossier.state = transition.target
    dossier.state_entered_at = at
    dossier.updated_at = at
    dossier.version += 1
    if dossier.state in playbook.approved_states() and source not in playbook.approved_states():
        dossier.approved_at = at
        for system in dossier.systems:
            system.approved_level = dossier.level
    session.flush()  # bumps the version; a concurrent writer's UPDATE now matches no row
    documents = [{"kind": d.kind, "filename": d.filename, "sha256": d.sha256} for d in dossier.documents]
    step = DossierTransition(
        dossier=dossier,
        name=name,
        from_state=source,
        to_state=dossier.state,
        actor=actor.username,
        role=role,
        body=body,
        at=at,
        comment=comment,
        form=transition.form,
        documents=documents,
        version=dossier.version,
    )
    session.add(step)
    audit.record(
        session,
        actor=actor.username,
        action=f"dossier.{name}",
        target_type="dossier",
        target_id=dossier.id,
        agency_id=dossier.agency_id,
        detail={
            "from": source,
            "to": dossier.state,
            "role": role,
            "body": body,
            "form": transition.form,
            "comment": comment,
            "version": dossier.version,
            "documents": [d["sha256"] for d in documents],
        },
        at=at,
    )
    return step
