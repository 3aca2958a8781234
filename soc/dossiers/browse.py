"""What front ends show about dossiers: the scoped list with its filters, the reader's headline,
the overdue list and each dossier's running deadlines in working days.

Everything starts from `DossierService.visible`, so a reader only ever gets what `can_see` lets
through: officers their agency's dossiers, appraisers and approvers what is routed to their body,
the city SOC and admins everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from soc.db.dossiers import Dossier
from soc.dossiers import report
from soc.dossiers.access import CITY_WIDE, Actor, can_see
from soc.dossiers.deadlines import Timer, timers
from soc.dossiers.playbook import LEVELS
from soc.dossiers.service import DossierService


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    agency: str | None = None
    """Agency code."""
    level: int | None = None
    overdue: bool = False


@dataclass(frozen=True)
class Clock:
    """A running deadline of one dossier, as a reader sees it."""

    timer: Timer
    due_on: date
    working_days_left: int
    """Working days after today up to the last day; negative once it has passed."""

    @property
    def overdue(self) -> bool:
        return self.working_days_left < 0


@dataclass(frozen=True)
class Row:
    dossier: Dossier
    clocks: tuple[Clock, ...]

    @property
    def overdue(self) -> bool:
        return any(c.overdue for c in self.clocks)

    @property
    def next_due(self) -> date | None:
        return min((c.due_on for c in self.clocks), default=None)


def city_wide(actor: Actor) -> bool:
    return any(actor.holds(role, anywhere=True) for role in CITY_WIDE)


def scope_of(service: DossierService, session: Session, actor: Actor) -> report.Scope | None:
    """The report scope of a reader (None: the whole city)."""
    if city_wide(actor):
        return None
    directory = service.directory(session)
    officer_of = frozenset(a for r, a in actor.grants if r == "agency_officer" and a is not None)
    return report.Scope(officer_of, lambda d: can_see(actor, d, directory))


def clocks(
    session: Session, service: DossierService, dossiers: list[Dossier], now: datetime
) -> dict[int, list[Clock]]:
    """Running deadlines per dossier id, with the working days left from today."""
    today = service.calendar.local_date(now)
    out: dict[int, list[Clock]] = {d.id: [] for d in dossiers}
    for timer in timers(session, service, dossiers):
        left = service.calendar.working_days_between(today, timer.due_on)
        if today > timer.due_on:
            left = min(left, -1)
        out[timer.dossier_id].append(Clock(timer, timer.due_on, left))
    return out


def listing(
    session: Session, service: DossierService, actor: Actor, filters: Filters, now: datetime
) -> list[Row]:
    """The reader's dossiers matching the filters, most urgent deadline first, then newest."""
    dossiers = service.visible(session, actor, filters.state or None)
    if filters.agency:
        dossiers = [d for d in dossiers if d.agency.code == filters.agency]
    if filters.level in LEVELS:
        dossiers = [d for d in dossiers if d.level == filters.level]
    running = clocks(session, service, dossiers, now)
    rows = [Row(d, tuple(running[d.id])) for d in dossiers]
    if filters.overdue:
        rows = [r for r in rows if r.overdue]
    far = date.max
    return sorted(rows, key=lambda r: (r.next_due or far, -r.dossier.id))


def overdue(session: Session, service: DossierService, actor: Actor, now: datetime) -> list[Row]:
    """The reader's dossiers with a missed deadline, the longest overdue first."""
    rows = listing(session, service, actor, Filters(overdue=True), now)
    return sorted(rows, key=lambda r: min(c.due_on for c in r.clocks if c.overdue))


def headline(session: Session, service: DossierService, actor: Actor, now: datetime) -> report.Status:
    """ "N of M approved" over what the reader may see (the city for city-wide roles)."""
    return report.status(session, service, now, scope=scope_of(service, session, actor))


def agencies_of(dossiers: list[Dossier]) -> list[tuple[str, str]]:
    """(code, name) of the agencies among these dossiers, for a filter."""
    return sorted({(d.agency.code, d.agency.name) for d in dossiers}, key=lambda a: a[1])
