"""Who may see and act on a dossier: agency officers on their own agency's, appraisers and approvers
on what is routed to their body, the city SOC and admins on everything (to read and to report).

A body (specialised unit, Ministry of Public Security, system owner, …) is held by the grants of
one agency, named in settings (`dossier_bodies`); a body not named there is held by city-wide
grants. Everything here is checked in the service layer, whatever front end calls it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from soc.db import accounts
from soc.db.dossiers import Dossier
from soc.db.models import User
from soc.dossiers.playbook import AGENCY, Playbook, Transition
from soc.errors import ConfigError

CITY_WIDE = ("admin", "soc_analyst")
"""Roles that see every dossier."""
ROUTED_SLOTS = {"appraiser": ("appraise", "opinion"), "approver": ("approve",)}


@dataclass(frozen=True)
class Actor:
    username: str
    grants: frozenset[tuple[str, int | None]]
    """(role, agency id or None for city-wide)."""

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.username, frozenset((g.role, g.agency_id) for g in user.grants))

    def holds(self, role: str, agency_id: int | None = None, *, anywhere: bool = False) -> bool:
        return any(r == role and (anywhere or a == agency_id) for r, a in self.grants)

    @property
    def agencies(self) -> frozenset[int]:
        return frozenset(a for _, a in self.grants if a is not None)


@dataclass(frozen=True)
class Directory:
    """Which agency holds each routed body (None: city-wide grants hold it)."""

    bodies: dict[str, int | None]

    def agency_of(self, body: str) -> int | None:
        return self.bodies.get(body)

    def member(self, actor: Actor, role: str, body: str | None) -> bool:
        return body is not None and actor.holds(role, self.agency_of(body))

    @classmethod
    def parse(cls, session: Session, spec: str) -> Directory:
        """`specialised_unit=stttt,system_owner=ubnd` with agency codes resolved to ids."""
        bodies: dict[str, int | None] = {}
        problems = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            body, _, code = part.partition("=")
            agency = accounts.get_agency_by_code(session, code.strip()) if code.strip() else None
            if agency is None:
                problems.append(f"dossier_bodies: '{part}' does not name a known agency (body=agency_code)")
                continue
            bodies[body.strip()] = agency.id
        if problems:
            raise ConfigError(problems)
        return cls(bodies)


def can_see(actor: Actor, dossier: Dossier, directory: Directory) -> bool:
    if any(actor.holds(role, anywhere=True) for role in CITY_WIDE):
        return True
    if actor.holds("agency_officer", dossier.agency_id):
        return True
    if not dossier.transitions:
        return False  # a draft nobody has sent anywhere is the agency's own business
    return any(
        directory.member(actor, role, dossier.routing.get(slot))
        for role, slots in ROUTED_SLOTS.items()
        for slot in slots
    )


def acting_role(actor: Actor, transition: Transition, dossier: Dossier, directory: Directory) -> str | None:
    """The first of the transition's roles the actor holds in the right scope, or None."""
    for role in transition.roles:
        if role == "agency_officer":
            allowed = actor.holds(role, dossier.agency_id)
        elif role in ROUTED_SLOTS and transition.acting_as != AGENCY:
            allowed = directory.member(actor, role, dossier.routing.get(transition.acting_as))
        else:
            allowed = actor.holds(role, anywhere=True)
        if allowed:
            return role
    return None


def open_transitions(
    playbook: Playbook, actor: Actor, dossier: Dossier, directory: Directory
) -> list[tuple[Transition, str]]:
    """The transitions out of the current state this actor may take (guards not yet checked)."""
    out = []
    for transition in playbook.transitions_from(dossier.state):
        if dossier.level not in transition.levels:
            continue
        role = acting_role(actor, transition, dossier, directory)
        if role is not None:
            out.append((transition, role))
    return out


def route(playbook: Playbook, level: int, operators: Iterable[int], directory: Directory) -> dict[str, str]:
    """Routing slots for a level; an appraising body that operates the system is replaced by the
    playbook's independent appraiser, so nobody appraises their own system."""
    slots = dict(playbook.routing.get(level, {}))
    appraise = slots.get("appraise")
    independent = slots.pop("independent", None)
    if appraise and independent and directory.agency_of(appraise) in set(operators):
        slots["appraise"] = independent
    return slots
