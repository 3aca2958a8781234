"""Dossiers approved under the legacy regime (Decree 85/2016), entered into the current register.

They keep their level and count as approved, but must meet the new law within the months its
playbook's `legacy` block gives (12 from 2026-07-01); reports flag them with that deadline.
"""

from __future__ import annotations

import calendar as months
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.dossiers import Dossier, InformationSystem
from soc.db.models import utcnow
from soc.dossiers.access import Actor, Directory, route
from soc.dossiers.engine import refuse
from soc.dossiers.playbook import Playbook


def add_months(day: date, count: int) -> date:
    month = day.month - 1 + count
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, months.monthrange(year, month)[1]))


def import_legacy(
    session: Session,
    playbook: Playbook,
    directory: Directory,
    actor: Actor,
    *,
    system_ids: Sequence[int],
    approved_on: date,
    now: datetime | None = None,
) -> Dossier:
    """Register systems approved under the old regime (admin only), at their proposed level."""
    if not actor.holds("admin", anywhere=True):
        raise refuse("forbidden", user=actor.username, action="import_legacy", id="-")
    legacy = playbook.legacy
    systems = [s for i in system_ids if (s := session.get(InformationSystem, i)) is not None]
    if (
        legacy is None
        or not systems
        or len(systems) != len(system_ids)
        or len({s.agency_id for s in systems}) != 1
    ):
        raise refuse(
            "bad_input", what="legacy import", why="systems of one agency and a playbook with `legacy`"
        )
    at = now or utcnow()
    level = max(s.proposed_level for s in systems)
    for system in systems:
        system.approved_level = system.proposed_level
    dossier = Dossier(
        agency_id=systems[0].agency_id,
        playbook_id=playbook.id,
        regime=playbook.regime,
        title=systems[0].name,
        level=level,
        state=legacy.state,
        created_by=actor.username,
        routing=route(playbook, level, {s.operator_id for s in systems}, directory),
        created_at=at,
        updated_at=at,
        state_entered_at=at,
        approved_at=at,
        legacy_approved_on=approved_on,
        legacy_deadline=add_months(legacy.in_force, legacy.months),
        systems=systems,
        version=1,
    )
    session.add(dossier)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="dossier.import_legacy",
        target_type="dossier",
        target_id=dossier.id,
        agency_id=dossier.agency_id,
        detail={"approved_on": approved_on, "level": level, "deadline": dossier.legacy_deadline},
        at=at,
    )
    return dossier
