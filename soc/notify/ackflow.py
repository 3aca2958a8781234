"""Acknowledge from an e-mail link: check a token against the group (GET), then act once (POST)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from soc.db.models import User
from soc.db.notify import AckTokenUse, AlertGroup
from soc.notify import acktoken
from soc.notify.acktoken import AckRefused, Claims
from soc.notify.message import format_time
from soc.notify.service import NotifyService


def check(
    svc: NotifyService, session: Session, token: str, group_id: str, now: datetime
) -> tuple[Claims, AlertGroup]:
    """The token's claims and its group when the token may act now; AckRefused (with why) otherwise."""
    claims = acktoken.verify(svc.secret_key, token, now=now)
    group = session.scalar(select(AlertGroup).where(AlertGroup.public_id == group_id))
    if group is None or claims.group != group_id:
        raise AckRefused(403, "ack.foreign")
    used = session.get(AckTokenUse, claims.nonce)
    if used is not None or group.state == "acknowledged":
        by = group.acked_by or (used.used_by if used else "?")
        at = group.acked_at or (used.used_at if used else now)
        raise AckRefused(409, "ack.already", by=by, at=format_time(at, svc.config.zone))
    if group.state == "resolved":
        raise AckRefused(409, "ack.resolved", at=format_time(group.resolved_at or now, svc.config.zone))
    if claims.version != group.version:
        raise AckRefused(409, "ack.changed")
    user = session.scalar(
        select(User).where(User.username == claims.username, User.email == claims.recipient, User.is_active)
    )
    if user is None:
        raise AckRefused(403, "ack.foreign")
    return claims, group


def acknowledge(svc: NotifyService, session: Session, token: str, group_id: str, now: datetime) -> AlertGroup:
    """Use the token once: the group is acknowledged by the token's recipient, paging stops."""
    claims, group = check(svc, session, token, group_id, now)
    # The conditional update wins the state change even against another recipient's token.
    won = session.execute(
        update(AlertGroup)
        .where(AlertGroup.id == group.id, AlertGroup.version == claims.version)
        .values(version=AlertGroup.version + 1)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        raise AckRefused(409, "ack.changed")
    session.refresh(group)
    try:
        with session.begin_nested():
            session.add(
                AckTokenUse(
                    nonce=claims.nonce, group_id=group.id, action=claims.action, recipient=claims.recipient,
                    used_by=claims.username, used_at=now,
                )
            )  # fmt: skip
    except IntegrityError as exc:
        raise AckRefused(409, "ack.changed") from exc
    svc.acknowledge(session, group, claims.username, now, via=f"e-mail link to {claims.recipient}")
    return group
