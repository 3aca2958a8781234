"""“Suppress similar” from the triage screen: a suppression of one rule, by the fields of an alert
or a Sigma filter, with owner, reason and a mandatory expiry — and optionally closing the open
alerts of that rule it matches (as false positives, with the same reason).

New matches are still stored (status "suppressed") and counted on `Suppression.hits` by the
alert writer (soc.alerts.writer); nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.alerts.writer import ALERT_FIELDS, SIGMA_KEY, FilterError, filter_fields, sigma_filter, suppresses
from soc.db import audit
from soc.db.detection import Alert, Suppression
from soc.db.models import Agency, utcnow
from soc.triage import alerts as triage
from soc.triage.alert_query import OPEN, scope_of
from soc.triage.principal import Invalid, Principal

MAX_DAYS = 90
FIELD_COLUMNS = {
    "host.name": "host",
    "user.name": "user_name",
    "source.ip": "source_ip",
    "organization.id": "agency",
}


@dataclass(frozen=True)
class Created:
    suppression: Suppression
    closed: list[str]
    """Ids of the open alerts closed with it."""


def fields_of(alert: Alert) -> dict[str, str]:
    """The fields of an alert a suppression can match on, with this alert's values."""
    out = {name: str(getattr(alert, col)) for name, col in FIELD_COLUMNS.items() if getattr(alert, col)}
    out.update({str(k): str(v) for k, v in (alert.group_key or {}).items() if v is not None and k not in out})
    return out


def suppress_similar(
    session: Session,
    principal: Principal,
    alert_id: str,
    *,
    fields: dict[str, str] | None = None,
    sigma: str | None = None,
    reason: str,
    expires_at: datetime | None,
    close_matching: bool = False,
    now: datetime | None = None,
) -> Created:
    principal.require("alerts.suppress")
    now = now or utcnow()
    alert = triage.get(session, principal, alert_id)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a suppression needs a reason")
    if expires_at is None:
        raise Invalid("a suppression needs an expiry")
    if expires_at <= now:
        raise Invalid("the expiry must be in the future")
    if expires_at > now + timedelta(days=MAX_DAYS):
        raise Invalid(f"a suppression lasts at most {MAX_DAYS} days")
    match = _match(alert, fields or {}, (sigma or "").strip())
    if not principal.city_wide:
        # Someone who sees only some agencies can only silence their own agency's alerts.
        match["organization.id"] = alert.agency or ""
    row = Suppression(
        rule_id=alert.rule_id, match=match, owner=principal.username, reason=reason[:2000],
        expires_at=expires_at, created_at=now, hits=0,
    )  # fmt: skip
    session.add(row)
    session.flush()
    agency_id = session.scalar(select(Agency.id).where(Agency.code == alert.agency)) if alert.agency else None
    audit.record(
        session, actor=principal.username, action="suppression.create", target_type="suppression",
        target_id=row.id, agency_id=agency_id, at=now,
        detail={"rule_id": alert.rule_id, "match": match, "reason": row.reason, "from_alert": alert.id,
                "expires_at": expires_at.isoformat(), "close_matching": close_matching},
    )  # fmt: skip
    closed: list[str] = []
    if close_matching:
        ids = [a.id for a in _open_matching(session, principal, row)]
        if ids:
            triage.apply(
                session, principal, ids, "close", resolution="false_positive",
                reason=f"{reason} (suppression #{row.id})", now=now,
            )  # fmt: skip
            closed = ids
    return Created(row, closed)


def _match(alert: Alert, fields: dict[str, str], sigma: str) -> dict[str, Any]:
    if bool(fields) == bool(sigma):
        raise Invalid("choose fields of the alert to match, or write a Sigma filter (one of the two)")
    if sigma:
        try:
            query = sigma_filter(sigma)
        except FilterError as exc:
            raise Invalid(str(exc)) from None
        known = set(ALERT_FIELDS) | {str(k) for k in alert.group_key or {}}
        unknown = sorted(filter_fields(query) - known)
        if unknown:
            raise Invalid(
                f"the Sigma filter uses {', '.join(unknown)}, which this alert does not keep; "
                f"use {', '.join(sorted(known))}"
            )
        return {SIGMA_KEY: sigma}
    own = fields_of(alert)
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in own:
            raise Invalid(f"{name} is not a field of this alert; use {', '.join(sorted(own))}")
        if not str(value).strip():
            raise Invalid(f"{name} needs a value")
        out[name] = str(value).strip()
    return out


def _open_matching(session: Session, principal: Principal, suppression: Suppression) -> list[Alert]:
    query = select(Alert).where(Alert.rule_id == suppression.rule_id, Alert.status.in_((*OPEN, "suppressed")))
    query = query.where(*scope_of(principal))
    return [a for a in session.scalars(query) if suppresses(suppression, row_of(a))]


def row_of(alert: Alert) -> dict[str, Any]:
    """An alert as the writer's row dict (what suppressions match against)."""
    return {
        "rule_id": alert.rule_id, "rule_title": alert.rule_title, "host": alert.host,
        "user_name": alert.user_name, "source_ip": alert.source_ip, "agency": alert.agency,
        "group_key": alert.group_key or {}, "events": alert.events or [],
    }  # fmt: skip
