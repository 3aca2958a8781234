"""From the SOC side: a serious incident on an agency's system opens "re-determination required" on
that system's approved dossier.

An incident names only its agency, not the system, so the caller picks among the agency's
approved dossiers (`candidates`); with one there is nothing to pick. The playbook's
`require_redetermination` transition does the work (guards, version, transition log, audit); this
module adds the incident to the comment, an audit entry linking both, and a note on the incident.
Only the city SOC (admin, soc_analyst) may do it, and only on an incident it can see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db import accounts, audit
from soc.db.dossiers import Dossier, DossierTransition
from soc.db.models import AuditEntry, utcnow
from soc.db.triage import Incident, IncidentNote
from soc.dossiers import report
from soc.dossiers.access import Actor
from soc.dossiers.engine import refuse
from soc.dossiers.service import DossierService

TRANSITION = "require_redetermination"
ROLES = ("admin", "soc_analyst")
"""City-wide grants of these roles may open a re-determination from an incident."""
ACTION = "dossier.redetermination_from_incident"


@dataclass(frozen=True)
class Opened:
    dossier: Dossier
    step: DossierTransition
    incident: Incident


def incident_for(session: Session, actor: Actor, incident_id: int) -> Incident:
    """The incident, if the actor is city SOC (who sees every agency's incidents)."""
    if not any(actor.holds(role) for role in ROLES):
        raise refuse("forbidden", user=actor.username, action=TRANSITION, id="-")
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise refuse("incident_not_found", id=incident_id)
    return incident


def candidates(session: Session, service: DossierService, actor: Actor, incident: Incident) -> list[Dossier]:
    """The incident agency's current dossiers that can be sent to re-determination now."""
    agency = accounts.get_agency_by_code(session, incident.agency) if incident.agency else None
    if agency is None:
        return []
    out = []
    for dossier in report.current_dossiers(session):
        if dossier.agency_id != agency.id:
            continue
        transition = service.playbook_of(dossier).transitions.get(TRANSITION)
        if transition is not None and dossier.state in transition.sources:
            out.append(dossier)
    return out


def open_from_incident(
    session: Session,
    service: DossierService,
    actor: Actor,
    incident_id: int,
    dossier_id: int,
    *,
    comment: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Opened:
    """Take `require_redetermination` on the dossier because of the incident; audited both ways."""
    incident = incident_for(session, actor, incident_id)
    choices = {d.id: d for d in candidates(session, service, actor, incident)}
    if not choices:
        raise refuse("no_approved_dossier", agency=incident.agency or "-")
    dossier = choices.get(dossier_id)
    if dossier is None:
        raise refuse("not_incident_agency", id=dossier_id)
    at = now or utcnow()
    reason = f"Sự cố #{incident.id} / Incident #{incident.id}: {incident.title}"
    if comment.strip():
        reason += f"\n{comment.strip()}"
    step = service.act(
        session, actor, dossier.id, TRANSITION,
        expected_version=dossier.version if expected_version is None else expected_version,
        comment=reason, now=at,
    )  # fmt: skip
    session.add(
        IncidentNote(
            incident_id=incident.id,
            at=at,
            author=actor.username,
            body=f"Yêu cầu xác định lại cấp độ hồ sơ #{dossier.id} / Re-determination required on "
            f"dossier #{dossier.id} ({dossier.title}): /dossiers/{dossier.id}",
        )
    )
    audit.record(
        session,
        actor=actor.username,
        action=ACTION,
        target_type="dossier",
        target_id=dossier.id,
        agency_id=dossier.agency_id,
        at=at,
        detail={"incident_id": incident.id, "incident_title": incident.title, "version": dossier.version},
    )
    return Opened(dossier, step, incident)


def incidents_of(session: Session, dossier: Dossier) -> list[tuple[int, str]]:
    """(incident id, title) of the incidents that opened a re-determination on this dossier."""
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == ACTION, AuditEntry.target_type == "dossier")
        .where(AuditEntry.target_id == str(dossier.id))
        .order_by(AuditEntry.id)
    )
    return [(int(e.detail["incident_id"]), str(e.detail.get("incident_title", ""))) for e in rows]
