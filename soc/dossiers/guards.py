"""Guards: named preconditions a playbook puts on a transition, registered in `GUARDS` by name.

A guard returns None when the transition may go ahead, or a `Refusal` saying why not. A playbook
naming a guard that is not in the dict is refused by `soc validate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from soc.db.dossiers import Dossier
from soc.dossiers.messages import Refusal, refusal
from soc.dossiers.playbook import Playbook, Transition


@dataclass(frozen=True)
class GuardContext:
    playbook: Playbook
    transition: Transition
    dossier: Dossier
    role: str
    """The role the actor takes the transition in."""
    actor_agencies: frozenset[int]
    """Every agency the actor holds any grant in (officer, appraiser or approver)."""
    body_agency_id: int | None
    """The agency of the routed body the actor acts for, if any."""


def required_documents_present(ctx: GuardContext) -> Refusal | None:
    needed = ctx.playbook.required_documents.get(ctx.transition.name, {}).get(ctx.dossier.level, ())
    present = {d.kind for d in ctx.dossier.documents}
    missing = [kind for kind in needed if kind not in present]
    if missing:
        return refusal("missing_documents", level=ctx.dossier.level, kinds=", ".join(missing))
    return None


def security_regulation_issued(ctx: GuardContext) -> Refusal | None:
    lacking = [s.name for s in ctx.dossier.systems if s.security_regulation_issued_on is None]
    if lacking or not ctx.dossier.systems:
        return refusal("no_security_regulation", systems=", ".join(lacking) or "-")
    return None


def appraiser_not_operator(ctx: GuardContext) -> Refusal | None:
    """The appraiser's own unit (and any agency the person works for) must not operate the system."""
    operators = {s.operator_id for s in ctx.dossier.systems} | {ctx.dossier.agency_id}
    mine = set(ctx.actor_agencies)
    if ctx.body_agency_id is not None:
        mine.add(ctx.body_agency_id)
    if mine & operators:
        return refusal("appraiser_is_operator", systems=", ".join(s.name for s in ctx.dossier.systems))
    return None


GUARDS: dict[str, Callable[[GuardContext], Refusal | None]] = {
    "required_documents_present": required_documents_present,
    "security_regulation_issued": security_regulation_issued,
    "appraiser_not_operator": appraiser_not_operator,
}
