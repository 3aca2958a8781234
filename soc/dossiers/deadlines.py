"""Deadlines: the timers a playbook runs per state, the overdue list, and the reminders and
escalations due at an injected `now`.

A timer counts working days (or hours, for incidents) from the latest occurrence of its anchor
event. Reminders go out the given number of working days before the deadline (only the nearest one
if several came due at once, so a late run does not send a burst), an escalation once it is missed.
`DossierNotice` rows remember what was handed over, so each goes out once per anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db.dossiers import Dossier, DossierNotice
from soc.db.models import User
from soc.dossiers.access import ROUTED_SLOTS, Actor, Directory, open_transitions
from soc.dossiers.playbook import CREATED, Deadline, Playbook
from soc.dossiers.service import DossierService

ESCALATION = -1
"""`days_before` of an escalation (the deadline has passed)."""


@dataclass(frozen=True)
class Timer:
    dossier_id: int
    agency_id: int
    state: str
    deadline: Deadline
    anchor_at: datetime
    due_on: date
    """Last working day that is still on time."""


@dataclass(frozen=True)
class Reminder:
    dossier_id: int
    agency_id: int
    deadline: str
    kind: str
    """"reminder" or "escalation"."""
    days_before: int
    due_on: date
    anchor_at: datetime
    recipients: tuple[str, ...]
    """Usernames; their e-mail addresses and locales are on the users."""


def timers(session: Session, service: DossierService, dossiers: list[Dossier] | None = None) -> list[Timer]:
    out = []
    for dossier in (
        dossiers if dossiers is not None else session.scalars(select(Dossier).order_by(Dossier.id))
    ):
        playbook = service.playbook_of(dossier)
        for deadline in playbook.deadlines:
            days = deadline.working_days.get(dossier.level)
            if dossier.state not in deadline.states or days is None:
                continue
            anchor_at = _anchor_at(dossier, deadline.anchor)
            if anchor_at is None:
                continue
            due_on = service.calendar.deadline(anchor_at, days)
            out.append(Timer(dossier.id, dossier.agency_id, dossier.state, deadline, anchor_at, due_on))
    return out


def overdue(session: Session, service: DossierService, now: datetime) -> list[Timer]:
    """Running timers whose last day has passed, oldest deadline first."""
    today = service.calendar.local_date(now)
    return sorted((t for t in timers(session, service) if today > t.due_on), key=lambda t: t.due_on)


def due_reminders(session: Session, now: datetime, service: DossierService | None = None) -> list[Reminder]:
    """Reminders and escalations that should go out at `now` and have not been handed over yet."""
    service = service or _default_service()
    today = service.calendar.local_date(now)
    actors = [Actor.of(u) for u in session.scalars(select(User).where(User.is_active.is_(True)))]
    directory = service.directory(session)
    out = []
    for timer in timers(session, service):
        if today > timer.due_on:
            kind, days_before = "escalation", ESCALATION
        else:
            left = [n for n in timer.deadline.reminders
                    if service.calendar.subtract_working_days(timer.due_on, n) <= today]  # fmt: skip
            if not left:
                continue
            kind, days_before = "reminder", min(left)
        if _sent(session, timer, kind, days_before):
            continue
        dossier = session.get_one(Dossier, timer.dossier_id)
        if kind == "escalation":
            people = _escalation(directory, dossier, timer.deadline, actors)
        else:
            people = _turn_holders(service.playbook_of(dossier), directory, dossier, actors)
        out.append(Reminder(timer.dossier_id, timer.agency_id, timer.deadline.name, kind, days_before,
                            timer.due_on, timer.anchor_at, tuple(sorted(people))))  # fmt: skip
    return out


def mark_sent(session: Session, reminder: Reminder, now: datetime) -> None:
    session.add(
        DossierNotice(
            dossier_id=reminder.dossier_id, deadline=reminder.deadline, anchor_at=reminder.anchor_at,
            kind=reminder.kind, days_before=reminder.days_before, due_on=reminder.due_on, created_at=now,
        )
    )  # fmt: skip
    session.flush()


def _anchor_at(dossier: Dossier, anchor: str) -> datetime | None:
    if anchor == CREATED:
        return dossier.created_at
    times = [t.at for t in dossier.transitions if t.name == anchor]
    return max(times) if times else None


def _sent(session: Session, timer: Timer, kind: str, days_before: int) -> bool:
    query = select(DossierNotice.id).where(
        DossierNotice.dossier_id == timer.dossier_id, DossierNotice.deadline == timer.deadline.name,
        DossierNotice.anchor_at == timer.anchor_at, DossierNotice.kind == kind,
        DossierNotice.days_before == days_before,
    )  # fmt: skip
    return session.scalar(query) is not None


def _turn_holders(
    playbook: Playbook, directory: Directory, dossier: Dossier, actors: list[Actor]
) -> set[str]:
    return {
        a.username
        for a in actors
        for t, _ in open_transitions(playbook, a, dossier, directory)
        if not playbook.states[t.target].final
    }


def _escalation(directory: Directory, dossier: Dossier, deadline: Deadline, actors: list[Actor]) -> set[str]:
    people: set[str] = set()
    for target in deadline.escalate_to:
        body = dossier.routing.get(target)
        roles = [r for r, slots in ROUTED_SLOTS.items() if target in slots]
        for actor in actors:
            routed = body is not None and any(directory.member(actor, r, body) for r in roles)
            if routed or (body is None and actor.holds(target, anywhere=True)):
                people.add(actor.username)
    return people


def _default_service() -> DossierService:
    from soc import settings

    return DossierService.from_settings(settings.load())
