"""Triage of alerts: status, assignee, resolution, comments and the history of every change.

Status moves new → acknowledged → in_progress → closed (a stage may be skipped forwards; a
closed alert reopens to in_progress with a reason). The first entry into each stage is stamped
on the row, and a stage skipped on the way is stamped too (closing a new alert acknowledges
it), so time-to-acknowledge and time-to-resolve read straight off the row. Every change writes
an `AlertTransition` per field and an audit entry per alert, in the caller's transaction.

Optimistic check: forms and API calls may send each alert's version (`version_of`, its
`updated_at`); if the row moved since, nothing is changed and `Conflict` (409) says who changed
it and when. Closing the last open alert of a notification group lets the notifier's next tick
resolve the group and send the "resolved" e-mail (soc.notify.grouping.all_closed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc import ecs
from soc.db import audit
from soc.db.detection import Alert, Suppression
from soc.db.models import Agency, User, utcnow
from soc.db.notify import AlertGroup, AlertGroupMember
from soc.db.triage import AlertComment, AlertTransition
from soc.errors import QueryError, StoreError
from soc.notify.service import NotifyService
from soc.store.base import EventStore, Window
from soc.store.query import Or, Query, Term
from soc.triage.alert_query import scope_of
from soc.triage.principal import Conflict, Invalid, NotFound, Principal

log = logging.getLogger(__name__)
RESOLUTIONS = ("true_positive", "false_positive", "benign", "duplicate", "other")
ACTIONS = ("acknowledge", "start", "close", "reopen", "assign")
STAGES = ("new", "acknowledged", "in_progress", "closed")
NEXT: dict[str, tuple[str, ...]] = {
    "new": ("acknowledged", "in_progress", "closed"),
    "suppressed": ("acknowledged", "in_progress", "closed"),
    "acknowledged": ("in_progress", "closed"),
    "in_progress": ("closed",),
    "closed": ("in_progress",),
}
"""Allowed status moves; closed → in_progress is a reopen and needs a reason."""
TARGET = {"acknowledge": "acknowledged", "start": "in_progress", "close": "closed", "reopen": "in_progress"}
MAX_BULK = 10_000
MAX_COMMENT = 10_000
MAX_REASON = 2_000


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Alert id → why nothing changed (already in that state, a move the flow does not allow)."""


@dataclass(frozen=True)
class Detail:
    alert: Alert
    agency_name: str | None
    transitions: list[AlertTransition]
    comments: list[AlertComment]
    groups: list[AlertGroup]
    suppression: Suppression | None


def version_of(alert: Alert) -> str:
    """The optimistic-lock token of an alert: its last change time ("0" if never changed)."""
    return alert.updated_at.isoformat() if alert.updated_at else "0"


def get(session: Session, principal: Principal, alert_id: str) -> Alert:
    """One alert the principal may see; NotFound for unknown ids and other agencies' alerts alike."""
    principal.require("alerts.read")
    query = select(Alert).where(Alert.id == alert_id).where(*scope_of(principal))
    alert = session.scalar(query)
    if alert is None:
        raise NotFound(f"alert {alert_id}")
    return alert


def detail(session: Session, principal: Principal, alert_id: str) -> Detail:
    alert = get(session, principal, alert_id)
    transitions = session.scalars(
        select(AlertTransition)
        .where(AlertTransition.alert_id == alert.id)
        .order_by(AlertTransition.at, AlertTransition.id)
    ).all()
    comments = session.scalars(
        select(AlertComment)
        .where(AlertComment.alert_id == alert.id)
        .order_by(AlertComment.at, AlertComment.id)
    ).all()
    groups = session.scalars(
        select(AlertGroup)
        .join(AlertGroupMember, AlertGroupMember.group_id == AlertGroup.id)
        .where(AlertGroupMember.alert_id == alert.id)
    ).all()
    name = session.scalar(select(Agency.name).where(Agency.code == alert.agency)) if alert.agency else None
    suppression = session.get(Suppression, alert.suppression_id) if alert.suppression_id else None
    return Detail(alert, name, list(transitions), list(comments), list(groups), suppression)


def apply(
    session: Session,
    principal: Principal,
    alert_ids: Sequence[str],
    action: str,
    *,
    assignee: str | None = None,
    resolution: str | None = None,
    reason: str | None = None,
    versions: dict[str, str] | None = None,
    strict: bool = False,
    now: datetime | None = None,
    notify: NotifyService | None = None,
) -> Outcome:
    """Apply one triage action to alerts the principal sees, all or nothing.

    An id the principal cannot see refuses the whole request (NotFound) before anything changes.
    With `strict` (a single alert's form), a move the flow does not allow is refused (Invalid);
    otherwise such alerts are skipped and reported.
    """
    principal.require("alerts.triage")
    now = now or utcnow()
    ids = list(dict.fromkeys(i for i in alert_ids if i))
    if not ids:
        raise Invalid("select at least one alert")
    if len(ids) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} alerts at once")
    if action not in ACTIONS:
        raise Invalid(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    reason = (reason or "").strip()[:MAX_REASON] or None
    if action == "close":
        if resolution not in RESOLUTIONS:
            raise Invalid(f"closing needs a resolution: one of {', '.join(RESOLUTIONS)}")
        if not reason:
            raise Invalid("closing needs a reason")
    if action == "reopen" and not reason:
        raise Invalid("reopening needs a reason")
    alerts = _load(session, principal, ids)
    if action == "assign":
        assignee = _check_assignee(session, principal, assignee, alerts)
    _check_versions(session, alerts, versions or {})
    agency_ids = {code: id_ for code, id_ in session.execute(select(Agency.code, Agency.id))}
    outcome = Outcome()
    for alert in alerts:
        changes = _changes(alert, action, assignee, resolution)
        if isinstance(changes, str):
            if strict:
                raise Invalid(changes)
            outcome.skipped[alert.id] = changes
            continue
        _write(session, principal, alert, changes, reason, now, agency_ids.get(alert.agency or ""), action)
        outcome.changed.append(alert.id)
    session.flush()
    if notify is not None and action in STOPS_PAGING and outcome.changed:
        _stop_paging(session, notify, principal, outcome.changed, now)
    return outcome


STOPS_PAGING = ("acknowledge", "start")
"""Someone is on it: the alert's notification group stops paging, as an e-mail acknowledgement does.
Closing does not: the group resolves on the next tick once all its alerts are closed, and keeps
paging while some are still open."""


def _stop_paging(
    session: Session, notify: NotifyService, principal: Principal, alert_ids: list[str], now: datetime
) -> None:
    groups = session.scalars(
        select(AlertGroup)
        .join(AlertGroupMember, AlertGroupMember.group_id == AlertGroup.id)
        .where(AlertGroupMember.alert_id.in_(alert_ids), AlertGroup.state.in_(("pending", "firing")))
        .distinct()
    ).all()
    for group in groups:
        notify.acknowledge(session, group, principal.username, now, via="triage in the web app")


def _load(session: Session, principal: Principal, ids: list[str]) -> list[Alert]:
    found: dict[str, Alert] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(Alert).where(Alert.id.in_(chunk)).where(*scope_of(principal)).with_for_update()
        found.update((a.id, a) for a in session.scalars(query))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"alert {missing[0]}")
    return [found[i] for i in ids]


def _check_versions(session: Session, alerts: list[Alert], versions: dict[str, str]) -> None:
    for alert in alerts:
        sent = versions.get(alert.id)
        if sent is None or sent == version_of(alert):
            continue
        last = session.scalar(
            select(AlertTransition)
            .where(AlertTransition.alert_id == alert.id)
            .order_by(AlertTransition.at.desc(), AlertTransition.id.desc())
            .limit(1)
        )
        who = f" by {last.actor} at {last.at.isoformat(timespec='seconds')}" if last else ""
        raise Conflict(
            f"alert {alert.id[:16]} was changed{who} after you loaded it (it is now {alert.status}"
            f"{', assigned to ' + alert.assignee if alert.assignee else ''}); nothing was changed — "
            "reload and try again"
        )


def _check_assignee(
    session: Session, principal: Principal, assignee: str | None, alerts: list[Alert]
) -> str | None:
    name = (assignee or "").strip()
    if name in ("", "-", "unassigned"):
        return None
    if name == "me":
        name = principal.username
    user = session.scalar(select(User).where(User.username == name, User.is_active))
    if user is None:
        raise Invalid(f"no active user named {name!r}")
    them = Principal.of(user)
    if not them.can("alerts.read"):
        raise Invalid(f"{name} may not read alerts, so cannot be assigned one")
    foreign = next((a for a in alerts if not them.sees(a.agency)), None)
    if foreign is not None:
        raise Invalid(f"{name} cannot see alerts of agency {foreign.agency or '(none)'}")
    return name


def _changes(
    alert: Alert, action: str, assignee: str | None, resolution: str | None
) -> dict[str, tuple[str | None, str | None]] | str:
    """field → (from, to), or why the action does not apply to this alert."""
    if action == "assign":
        if alert.assignee == assignee:
            return f"already assigned to {assignee}" if assignee else "already unassigned"
        return {"assignee": (alert.assignee, assignee)}
    target = TARGET[action]
    if alert.status == target:
        return f"already {target}"
    if action == "reopen" and alert.status != "closed":
        return f"only a closed alert reopens; this one is {alert.status}"
    if action != "reopen" and alert.status == "closed":
        return "closed; reopen it first"
    if target not in NEXT.get(alert.status, ()):
        return f"cannot go from {alert.status} to {target}"
    changes: dict[str, tuple[str | None, str | None]] = {"status": (alert.status, target)}
    if action == "close" and alert.resolution != resolution:
        changes["resolution"] = (alert.resolution, resolution)
    if action == "reopen" and alert.resolution is not None:
        changes["resolution"] = (alert.resolution, None)
    return changes


def _write(
    session: Session,
    principal: Principal,
    alert: Alert,
    changes: dict[str, tuple[str | None, str | None]],
    reason: str | None,
    now: datetime,
    agency_id: int | None,
    action: str,
) -> None:
    for name, (old, new) in changes.items():
        setattr(alert, "assignee" if name == "assignee" else name, new)
        session.add(
            AlertTransition(
                alert_id=alert.id, at=now, actor=principal.username, field=name, from_value=old,
                to_value=new, reason=reason,
            )
        )  # fmt: skip
    if "status" in changes:
        _stamp(alert, str(changes["status"][1]), now)
    alert.updated_at = now
    audit.record(
        session, actor=principal.username, action=f"alert.{action}", target_type="alert",
        target_id=alert.id, agency_id=agency_id, at=now,
        detail={"changes": {k: list(v) for k, v in changes.items()}, "reason": reason},
    )  # fmt: skip


def _stamp(alert: Alert, status: str, now: datetime) -> None:
    """First entry into `status` and into any stage skipped on the way there."""
    if status not in STAGES:
        return
    for stage in STAGES[1 : STAGES.index(status) + 1]:
        column = f"{stage}_at"
        if getattr(alert, column) is None:
            setattr(alert, column, now)


def comment(
    session: Session, principal: Principal, alert_id: str, body: str, now: datetime | None = None
) -> AlertComment:
    principal.require("alerts.comment")
    alert = get(session, principal, alert_id)
    text = (body or "").strip()
    if not text:
        raise Invalid("a comment cannot be empty")
    if len(text) > MAX_COMMENT:
        raise Invalid(f"a comment holds at most {MAX_COMMENT} characters")
    now = now or utcnow()
    row = AlertComment(alert_id=alert.id, at=now, author=principal.username, body=text)
    session.add(row)
    agency_id = session.scalar(select(Agency.id).where(Agency.code == alert.agency)) if alert.agency else None
    audit.record(
        session, actor=principal.username, action="alert.comment", target_type="alert", target_id=alert.id,
        agency_id=agency_id, at=now, detail={"chars": len(text)},
    )  # fmt: skip
    session.flush()
    return row


def assignable(session: Session, agency: str | None = None) -> list[str]:
    """Active users who could be assigned alerts (of `agency`, when given), by name."""
    users = session.scalars(select(User).where(User.is_active).order_by(User.username)).all()
    out = []
    for user in users:
        them = Principal.of(user)
        wanted = them.city_wide if agency is None else them.sees(agency)
        if them.can("alerts.read") and wanted:
            out.append(user.username)
    return out


def as_json(alert: Alert) -> dict[str, Any]:
    """The alert as the API returns it in lists (detail adds events, history and comments)."""
    return {
        "id": alert.id, "rule_id": alert.rule_id, "rule_title": alert.rule_title,
        "rule_version": alert.rule_version, "level": alert.level, "tags": list(alert.tags or []),
        "agency": alert.agency, "host": alert.host, "user_name": alert.user_name,
        "source_ip": alert.source_ip,
        "first_at": alert.first_at, "last_at": alert.last_at, "count": alert.count,
        "created_at": alert.created_at, "status": alert.status, "assignee": alert.assignee,
        "resolution": alert.resolution, "acknowledged_at": alert.acknowledged_at,
        "in_progress_at": alert.in_progress_at, "closed_at": alert.closed_at,
        "incident_id": alert.incident_id, "suppression_id": alert.suppression_id,
        "version": version_of(alert),
    }  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """One matched event: what the alert row kept, and the full event when the store still has it."""

    index: str
    id: str
    original: str | None
    event: dict[str, Any] | None


def evidence(store: EventStore, principal: Principal, alert: Alert) -> tuple[list[Evidence], bool]:
    """The alert's matched events, completed from the event store (scoped to the principal's and
    the alert's agency); the flag is False when the store could not be asked."""
    kept = [e for e in alert.events or [] if isinstance(e, dict)]
    ids = [str(e.get("id")) for e in kept if e.get("id")]
    found: dict[str, dict[str, Any]] = {}
    reachable = True
    agencies = principal.allowed([alert.agency] if alert.agency else None)
    if ids and (agencies is None or agencies):
        start = min(alert.first_at, alert.window_start) - EVIDENCE_SLACK
        window = Window(start, alert.window_end + timedelta(seconds=1))
        query: Query = Or(tuple(Term(ecs.HASH, i, cased=True) for i in ids))
        try:
            hits = store.search(query, agencies=agencies, window=window, size=len(ids)).hits
            found = {h.id: h.source for h in hits}
        except (StoreError, QueryError) as exc:
            log.warning("evidence of alert %s not read from the event store: %s", alert.id, exc)
            reachable = False
    out = [
        Evidence(
            str(e.get("index", "")), str(e.get("id", "")), e.get("original"), found.get(str(e.get("id")))
        )
        for e in kept
    ]
    return out, reachable


EVIDENCE_SLACK = timedelta(days=1)
"""Matched events were ingested inside the window; correlations read history before it."""


def flatten(doc: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """An event as sorted (dotted field, value) pairs, event.original left out (shown apart)."""
    out: list[tuple[str, str]] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flatten(value, f"{name}.")
        elif name != ecs.ORIGINAL:
            out.append((name, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return sorted(out)
