"""Alert groups: alerts of one rule for one agency share a group (and an e-mail thread) while it is open.

`on_new_alerts` only counts alerts into groups, in the caller's transaction; whether and whom to
notify is decided later by `NotifyService.tick`, which waits `group.wait` after a group opens so
a burst becomes one e-mail.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from soc.db.detection import Alert
from soc.db.notify import AlertGroup, AlertGroupMember

LEVEL_ORDER = ("informational", "low", "medium", "high", "critical")
NOT_NOTIFIED = ("suppressed",)
CLOSED = ("closed", "merged")


def open_key(rule_id: str, agency: str | None) -> str:
    return f"{rule_id}|{agency or ''}"


def new_public_id(now: datetime) -> str:
    return f"ALR-{now:%Y%m%d}-{secrets.token_hex(3).upper()}"


def on_new_alerts(session: Session, alert_ids: Sequence[str], now: datetime) -> list[int]:
    """Count the given alerts into their open (rule, agency) group, opening one when needed.

    Idempotent: an alert already counted, suppressed or unknown is skipped, so the detection
    scheduler may pass every row it tried to write. Returns the ids of the groups touched.
    """
    ids = list(dict.fromkeys(alert_ids))
    if not ids:
        return []
    counted = set(
        session.scalars(select(AlertGroupMember.alert_id).where(AlertGroupMember.alert_id.in_(ids)))
    )
    alerts = session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.first_at)).all()
    touched: list[int] = []
    for alert in alerts:
        if alert.id in counted or alert.status in NOT_NOTIFIED:
            continue
        group = _open_group(session, alert, now)
        session.add(AlertGroupMember(alert_id=alert.id, group_id=group.id))
        group.alert_count += 1
        group.first_at = min(group.first_at, alert.first_at)
        group.last_at = max(group.last_at, alert.last_at, now)
        if _rank(alert.level) > _rank(group.level):
            group.level = alert.level
        if group.id not in touched:
            touched.append(group.id)
    session.flush()
    return touched


def _open_group(session: Session, alert: Alert, now: datetime) -> AlertGroup:
    key = open_key(alert.rule_id, alert.agency)
    group = session.scalar(select(AlertGroup).where(AlertGroup.open_key == key))
    if group is not None:
        return group
    group = AlertGroup(
        public_id=new_public_id(now), open_key=key, rule_id=alert.rule_id, rule_title=alert.rule_title,
        agency=alert.agency, level=alert.level, tags=list(alert.tags), state="pending", version=1,
        alert_count=0, notified_count=0, first_at=alert.first_at, last_at=now, next_notify_at=now,
        created_at=now,
    )  # fmt: skip
    try:
        # A savepoint: another scheduler opening the same group must not fail the alerts' commit.
        with session.begin_nested():
            session.add(group)
    except IntegrityError:
        found = session.scalar(select(AlertGroup).where(AlertGroup.open_key == key))
        assert found is not None
        return found
    return group


def members(session: Session, group: AlertGroup, limit: int = 5) -> list[Alert]:
    """The group's latest alerts (evidence for the e-mail)."""
    query = (
        select(Alert)
        .join(AlertGroupMember, AlertGroupMember.alert_id == Alert.id)
        .where(AlertGroupMember.group_id == group.id)
        .order_by(Alert.last_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def all_closed(session: Session, group: AlertGroup) -> bool:
    """Every alert of the group closed in triage."""
    still_open = session.scalar(
        select(func.count())
        .select_from(Alert)
        .join(AlertGroupMember, AlertGroupMember.alert_id == Alert.id)
        .where(AlertGroupMember.group_id == group.id, Alert.status.not_in(CLOSED))
    )
    return group.alert_count > 0 and not still_open


def _rank(level: str) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else 2
