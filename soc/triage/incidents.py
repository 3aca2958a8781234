"""Incidents: alerts of one agency escalated into a case, with owner, status, notes and the
reporting clock. A new incident starts the incident-reporting playbook (the library's default
`kind: incident` playbook, playbooks/incident-reporting.yml): its deadlines in hours give the
initial notice (every incident; 24 h as shipped) and the full report (serious incidents only; 72 h).
Which playbook started an incident is kept in its `incident.create` audit entry.

Every read is scoped to the principal's agencies; an incident of another agency is NotFound.
Every change writes the audit log in the same transaction; alert links also write the alert's
own history (AlertTransition field "incident").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from soc.db import accounts, audit
from soc.db.detection import Alert
from soc.db.models import AuditEntry, RoleGrant, User
from soc.db.triage import AlertTransition, Incident, IncidentNote
from soc.dossiers.library import Library, bundled, report_hours
from soc.dossiers.playbook import Playbook
from soc.errors import ConfigError
from soc.triage.principal import PERMISSIONS, Conflict, Invalid, NotFound, Principal

SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("open", "contained", "closed")
REPORTS = ("initial_notice", "full_report")
"""The reports of the incident-reporting playbook, named as its deadlines; their hours come from it.
Every incident owes the initial notice; only serious ones (or critical) owe the full report."""
REMIND_BEFORE = timedelta(hours=2)
MAX_ALERTS = 500
MAX_NOTE = 10_000


class IncidentError(Invalid):
    """A refused change; `key` and `values` let the page say it in the user's language."""

    def __init__(self, key: str, message: str, **values: Any) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Timer:
    kind: str
    """initial_notice or full_report"""
    due_at: datetime
    done_at: datetime | None
    state: str
    """done, pending, soon (due within 2 h) or overdue"""
    left: timedelta
    """Time until due (negative once overdue)."""


@dataclass(frozen=True)
class IncidentFilter:
    status: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    agency: tuple[str, ...] = ()


@dataclass
class IncidentPage:
    incidents: list[Incident]
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    """Incidents per status under the same filter (without the status filter)."""


def reporting_playbook(library: Library | None = None) -> Playbook:
    """The playbook a new incident starts: the library's default incident playbook (without a
    library, the shipped playbooks)."""
    return (library or bundled()).default("incident")


def report_deadlines(playbook: Playbook) -> dict[str, timedelta]:
    """Each report's time limit from creation, as the playbook's deadlines in hours set it."""
    hours = report_hours(playbook)
    missing = [r for r in REPORTS if r not in hours]
    if missing:
        raise ConfigError(
            [f"{playbook.path}: incident playbook '{playbook.id}' has no deadline in hours "
             f"anchored at creation for {', '.join(missing)}"]
        )  # fmt: skip
    return {r: timedelta(hours=hours[r]) for r in REPORTS}


def started_by(session: Session, incident: Incident) -> str | None:
    """The id of the playbook that started the incident (None for incidents older than that record)."""
    stmt = select(AuditEntry.detail).where(
        AuditEntry.target_type == "incident",
        AuditEntry.target_id == str(incident.id),
        AuditEntry.action == "incident.create",
    )
    detail = session.scalar(stmt.order_by(AuditEntry.id).limit(1))
    found = (detail or {}).get("playbook")
    return str(found) if found else None


def playbook_of(session: Session, incident: Incident, library: Library | None = None) -> Playbook:
    """The playbook the incident started (the current default if it is no longer loaded)."""
    library = library or bundled()
    found = started_by(session, incident)
    if found is not None and found in library.playbooks:
        return library.playbooks[found]
    return reporting_playbook(library)


def timers(incident: Incident, now: datetime) -> list[Timer]:
    out = [_timer("initial_notice", incident.initial_notice_due, incident.initial_notice_at, now)]
    if incident.full_report_due is not None:
        out.append(_timer("full_report", incident.full_report_due, incident.full_report_at, now))
    return out


def _timer(kind: str, due: datetime, done: datetime | None, now: datetime) -> Timer:
    left = due - now
    if done is not None:
        state = "done"
    elif left <= timedelta(0):
        state = "overdue"
    elif left <= REMIND_BEFORE:
        state = "soon"
    else:
        state = "pending"
    return Timer(kind, due, done, state, left)


def list_incidents(
    session: Session, principal: Principal, f: IncidentFilter, *, limit: int = 50, offset: int = 0
) -> IncidentPage:
    principal.require("incidents.read")
    where = _scope(principal)
    if f.agency:
        allowed = principal.allowed(f.agency)
        where.append(Incident.agency.in_(sorted(allowed if allowed is not None else f.agency)))
    if f.severity:
        where.append(Incident.severity.in_(f.severity))
    per_status = session.execute(
        select(Incident.status, func.count()).where(*where).group_by(Incident.status)
    )
    counts = {str(s): int(n) for s, n in per_status}
    if f.status:
        where.append(Incident.status.in_(f.status))
    total = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    stmt = select(Incident).where(*where).order_by(Incident.created_at.desc(), Incident.id.desc())
    rows = list(session.scalars(stmt.limit(limit).offset(offset)))
    return IncidentPage(rows, total, counts)


def get(session: Session, principal: Principal, incident_id: int) -> Incident:
    principal.require("incidents.read")
    found = session.scalar(select(Incident).where(Incident.id == incident_id, *_scope(principal)))
    if found is None:
        raise NotFound(f"incident {incident_id}")
    return found


def alerts_of(session: Session, principal: Principal, incident: Incident) -> list[Alert]:
    stmt = select(Alert).where(Alert.incident_id == incident.id, *_alert_scope(principal))
    return list(session.scalars(stmt.order_by(Alert.first_at, Alert.id)))


def notes_of(session: Session, incident: Incident) -> list[IncidentNote]:
    stmt = select(IncidentNote).where(IncidentNote.incident_id == incident.id)
    return list(session.scalars(stmt.order_by(IncidentNote.at, IncidentNote.id)))


def open_incidents_for(session: Session, principal: Principal, agency: str | None) -> list[Incident]:
    """Incidents alerts of `agency` could be attached to (not closed), newest first."""
    principal.require("incidents.read")
    same = Incident.agency.is_(None) if agency is None else Incident.agency == agency
    stmt = select(Incident).where(same, Incident.status != "closed", *_scope(principal))
    return list(session.scalars(stmt.order_by(Incident.created_at.desc()).limit(100)))


def visible_alerts(session: Session, principal: Principal, alert_ids: Sequence[str]) -> list[Alert]:
    """The named alerts; NotFound if any of them does not exist or is not visible."""
    principal.require("alerts.read")
    wanted = sorted({a.strip() for a in alert_ids if a and a.strip()})
    if not wanted:
        raise IncidentError("incidents.error.no_alerts", "choose at least one alert")
    if len(wanted) > MAX_ALERTS:
        raise IncidentError("incidents.error.too_many", f"at most {MAX_ALERTS} alerts at once", n=MAX_ALERTS)
    found = list(session.scalars(select(Alert).where(Alert.id.in_(wanted), *_alert_scope(principal))))
    if len(found) != len(wanted):
        raise NotFound("alert")
    return found


def escalate(
    session: Session,
    principal: Principal,
    alert_ids: Sequence[str],
    *,
    now: datetime,
    incident_id: int | None = None,
    title: str | None = None,
    severity: str | None = None,
    serious: bool = False,
    library: Library | None = None,
) -> Incident:
    """Attach alerts to an incident: an existing one (`incident_id`) or a new one (`title`,
    `severity`). All alerts must be visible and of one agency, the incident's. A new incident
    starts the default incident-reporting playbook of `library` (default: the shipped playbooks)."""
    principal.require("incidents.write")
    alerts = visible_alerts(session, principal, alert_ids)
    agencies = {a.agency for a in alerts}
    if len(agencies) > 1:
        names = ", ".join(sorted(a or "—" for a in agencies))
        raise IncidentError(
            "incidents.error.mixed",
            f"an incident belongs to one agency; these alerts are of {names}: escalate them separately",
            agencies=names,
        )
    (agency,) = agencies
    elsewhere = [a for a in alerts if a.incident_id is not None and a.incident_id != incident_id]
    if elsewhere:
        a = elsewhere[0]
        raise IncidentError(
            "incidents.error.linked",
            f"alert {a.id} is already in incident #{a.incident_id}; unlink it there first",
            alert=a.id, incident=a.incident_id,
        )  # fmt: skip
    if incident_id is not None:
        incident = get(session, principal, incident_id)
        if incident.agency != agency:
            raise IncidentError(
                "incidents.error.other_agency",
                f"incident #{incident.id} belongs to {incident.agency or '—'}, the alerts to {agency or '—'}",
                incident=incident.id, incident_agency=incident.agency or "—", agency=agency or "—",
            )  # fmt: skip
        if incident.status == "closed":
            raise IncidentError(
                "incidents.error.closed",
                f"incident #{incident.id} is closed; reopen it first",
                id=incident.id,
            )
        action = "incident.attach"
        started: dict[str, Any] = {}
    else:
        playbook = reporting_playbook(library)
        incident = _create(session, principal, agency, title, severity, serious, now, playbook)
        action = "incident.create"
        started = {"playbook": playbook.id,
                   "playbook_title": {"en": playbook.title.en, "vi": playbook.title.vi}}  # fmt: skip
    linked = [a for a in alerts if a.incident_id != incident.id]
    for a in linked:
        a.incident_id = incident.id
        a.updated_at = now
        _transition(session, principal, a.id, None, str(incident.id), "escalated", now)
    if linked:
        session.add(IncidentNote(incident_id=incident.id, at=now, author=principal.username,
                                 body=_observables(linked)))  # fmt: skip
    _touch(incident, now)
    session.flush()
    _audit(session, principal, action, incident, now, alerts=[a.id for a in linked], **started)
    return incident


def unlink(
    session: Session,
    principal: Principal,
    incident_id: int,
    alert_id: str,
    *,
    now: datetime,
    reason: str = "",
) -> None:
    principal.require("incidents.write")
    incident = get(session, principal, incident_id)
    stmt = select(Alert).where(
        Alert.id == alert_id, Alert.incident_id == incident.id, *_alert_scope(principal)
    )
    alert = session.scalar(stmt)
    if alert is None:
        raise NotFound(f"alert {alert_id} in incident {incident_id}")
    alert.incident_id = None
    alert.updated_at = now
    _transition(session, principal, alert.id, str(incident.id), None, reason.strip() or "unlinked", now)
    _touch(incident, now)
    _audit(
        session, principal, "incident.unlink", incident, now, alert=alert.id, reason=reason.strip() or None
    )


def update(
    session: Session,
    principal: Principal,
    incident_id: int,
    *,
    now: datetime,
    version: int | None = None,
    status: str | None = None,
    severity: str | None = None,
    serious: bool | None = None,
    owner: str | None = None,
    title: str | None = None,
    library: Library | None = None,
) -> Incident:
    """Change status, severity (and seriousness), owner ("" unassigns) or title; returns the incident.
    An incident turning serious gets the full-report deadline of the playbook that started it.

    With `version`, a change based on an older read is refused (Conflict)."""
    principal.require("incidents.write")
    incident = get(session, principal, incident_id)
    if version is not None and version != incident.version:
        raise Conflict(f"incident #{incident.id} changed since you loaded it; reload and try again")
    changes: dict[str, Any] = {}
    if status is not None and status != incident.status:
        if status not in STATUSES:
            raise IncidentError("incidents.error.status", f"status must be one of {', '.join(STATUSES)}")
        changes["status"] = [incident.status, status]
        incident.status = status
        incident.closed_at = now if status == "closed" else None
    if severity is not None or serious is not None:
        full_after = report_deadlines(playbook_of(session, incident, library))["full_report"]
        changes |= _set_severity(
            incident,
            severity or incident.severity,
            incident.serious if serious is None else serious,
            full_after,
        )
    if owner is not None and (owner.strip() or None) != incident.owner:
        new_owner = owner.strip() or None
        if new_owner is not None:
            _require_owner(session, new_owner)
        changes["owner"] = [incident.owner, new_owner]
        incident.owner = new_owner
    if title is not None and title.strip() != incident.title:
        changes["title"] = [incident.title, _title(title)]
        incident.title = _title(title)
    if changes:
        _touch(incident, now)
        _audit(session, principal, "incident.update", incident, now, changes=changes)
    return incident


def add_note(
    session: Session, principal: Principal, incident_id: int, body: str, *, now: datetime
) -> IncidentNote:
    principal.require("incidents.write")
    incident = get(session, principal, incident_id)
    text = body.strip()
    if not text:
        raise IncidentError("incidents.error.empty_note", "the note is empty")
    if len(text) > MAX_NOTE:
        raise IncidentError(
            "incidents.error.long_note", f"a note has at most {MAX_NOTE} characters", n=MAX_NOTE
        )
    note = IncidentNote(incident_id=incident.id, at=now, author=principal.username, body=text)
    session.add(note)
    _touch(incident, now)
    session.flush()
    _audit(session, principal, "incident.note", incident, now, note=note.id)
    return note


def record_report(
    session: Session, principal: Principal, incident_id: int, kind: str, *, now: datetime
) -> Incident:
    """Record that the initial notice or the full report was sent (now)."""
    principal.require("incidents.write")
    incident = get(session, principal, incident_id)
    if kind not in REPORTS:
        raise IncidentError("incidents.error.report_kind", f"report must be one of {', '.join(REPORTS)}")
    if kind == "full_report" and incident.full_report_due is None:
        raise IncidentError("incidents.error.no_full_report", "only serious incidents need a full report")
    if getattr(incident, f"{kind}_at") is not None:
        raise IncidentError("incidents.error.reported", f"{kind} was already recorded", kind=kind)
    setattr(incident, f"{kind}_at", now)
    _touch(incident, now)
    _audit(session, principal, f"incident.{kind}", incident, now, due=getattr(incident, f"{kind}_due"))
    return incident


def owners(session: Session) -> list[str]:
    """Usernames that can own an incident (hold a city-wide role with incidents.write)."""
    roles = sorted(PERMISSIONS["incidents.write"])
    stmt = (
        select(User.username)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role.in_(roles), User.is_active.is_(True))
        .distinct()
        .order_by(User.username)
    )
    return list(session.scalars(stmt))


def history(session: Session, incident: Incident) -> list[AuditEntry]:
    """The audit entries about this incident, oldest first (who, when, what)."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.target_type == "incident", AuditEntry.target_id == str(incident.id))
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(stmt))


# ---- internals --------------------------------------------------------------------------------


def _create(
    session: Session,
    principal: Principal,
    agency: str | None,
    title: str | None,
    severity: str | None,
    serious: bool,
    now: datetime,
    playbook: Playbook,
) -> Incident:
    if not principal.sees(agency):  # defence in depth: the alerts were already scoped
        raise NotFound("agency")
    limits = report_deadlines(playbook)
    incident = Incident(
        title=_title(title or ""), agency=agency, severity="medium", status="open",
        created_by=principal.username, created_at=now, updated_at=now,
        initial_notice_due=now + limits["initial_notice"], version=0,
    )  # fmt: skip
    _set_severity(incident, severity or "", serious, limits["full_report"])
    session.add(incident)
    session.flush()
    return incident


def _set_severity(incident: Incident, severity: str, serious: bool, full_after: timedelta) -> dict[str, Any]:
    if severity not in SEVERITIES:
        raise IncidentError("incidents.error.severity", f"severity must be one of {', '.join(SEVERITIES)}")
    serious = serious or severity == "critical"
    changes: dict[str, Any] = {}
    if severity != incident.severity:
        changes["severity"] = [incident.severity, severity]
    if serious != bool(incident.serious):
        changes["serious"] = [bool(incident.serious), serious]
    incident.severity, incident.serious = severity, serious
    if serious and incident.full_report_due is None:
        incident.full_report_due = incident.created_at + full_after
    elif not serious and incident.full_report_at is None:
        incident.full_report_due = None
    return changes


def _title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise IncidentError("incidents.error.title", "give the incident a title")
    if len(title) > 300:
        raise IncidentError("incidents.error.long_title", "a title has at most 300 characters")
    return title


def _require_owner(session: Session, username: str) -> None:
    if username not in owners(session):
        raise IncidentError("incidents.error.owner", f"{username} cannot own incidents", owner=username)


def _observables(alerts: Sequence[Alert]) -> str:
    lines = []
    for a in alerts:
        seen = [
            f"{k} {v}" for k, v in (("host", a.host), ("user", a.user_name), ("source.ip", a.source_ip)) if v
        ]
        lines.append(f"{a.id}: {a.rule_title} [{a.level}] — {', '.join(seen) or '—'}")
    return "\n".join(["+ " + line for line in lines])


def _transition(
    session: Session,
    principal: Principal,
    alert_id: str,
    before: str | None,
    after: str | None,
    reason: str,
    now: datetime,
) -> None:
    session.add(AlertTransition(alert_id=alert_id, at=now, actor=principal.username, field="incident",
                                from_value=before, to_value=after, reason=reason))  # fmt: skip


def _touch(incident: Incident, now: datetime) -> None:
    incident.updated_at = now
    incident.version = (incident.version or 0) + 1


def _audit(
    session: Session, principal: Principal, action: str, incident: Incident, now: datetime, **detail: Any
) -> None:
    agency = accounts.get_agency_by_code(session, incident.agency) if incident.agency else None
    audit.record(
        session, actor=principal.username, action=action, target_type="incident", target_id=incident.id,
        agency_id=agency.id if agency else None, detail=detail, at=now,
    )  # fmt: skip


def _scope(principal: Principal) -> list[ColumnElement[bool]]:
    condition = principal.condition(Incident.agency.expression)
    return [] if condition is None else [condition]


def _alert_scope(principal: Principal) -> list[ColumnElement[bool]]:
    condition = principal.condition(Alert.agency.expression)
    return [] if condition is None else [condition]
