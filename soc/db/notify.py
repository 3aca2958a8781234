"""Notification state: alert groups, the outbox (the queue), attempts, dead letters, ack token uses,
on-call overrides, silences and worker heartbeats.

The outbox row is the queue: a message exists once the transaction that decided to send it
commits, and a worker owns it only after a conditional UPDATE moved it from `pending` to `sending`.
Schedules, policies and routes live in YAML (soc.notify.oncall); what people change at run time
(overrides, silences) lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soc.db.models import Base, _in, utcnow

GROUP_STATES = ("pending", "firing", "acknowledged", "resolved")
OUTBOX_STATES = ("pending", "sending", "sent", "dead")
MESSAGE_KINDS = (
    "firing", "repeat", "escalation", "acknowledged", "resolved", "digest", "dead_letter", "reminder",
)  # fmt: skip
SILENCE_KINDS = ("silence", "maintenance")


class AlertGroup(Base):
    """Alerts of one rule for one agency, notified as one thread until the group resolves.

    `open_key` is "rule|agency" while the group is open and NULL once resolved, so its unique
    constraint allows one open group per (rule, agency) and any number of closed ones.
    `version` grows on every state change; ack tokens carry it and are void once it moved.
    """

    __tablename__ = "alert_groups"
    __table_args__ = (
        CheckConstraint(_in("state", GROUP_STATES), name="state"),
        Index("ix_alert_groups_state_next", "state", "next_notify_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    """Shown in subjects and links, e.g. ALR-20261127-7F3A2C."""
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_title: Mapped[str] = mapped_column(Text)
    agency: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    version: Mapped[int] = mapped_column(Integer, default=1)
    digest: Mapped[bool] = mapped_column(default=False)
    """Low severity: reported in the daily digest instead of paging."""
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    notified_count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    next_notify_at: Mapped[datetime | None]
    """Initial wait, then the repeat interval; NULL when nothing is due."""
    policy: Mapped[str | None] = mapped_column(String(64))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalation_round: Mapped[int] = mapped_column(Integer, default=0)
    escalation_next_at: Mapped[datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(100))
    acked_at: Mapped[datetime | None]
    ack_expires_at: Mapped[datetime | None]
    digested_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertGroupMember(Base):
    """Which group an alert was counted in; the primary key makes counting idempotent."""

    __tablename__ = "alert_group_members"

    alert_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"), index=True)


class OutboxMessage(Base):
    """One e-mail to one recipient, fully rendered when the decision to send was taken."""

    __tablename__ = "notify_outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATES), name="status"),
        CheckConstraint(_in("kind", MESSAGE_KINDS), name="kind"),
        Index("ix_notify_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_groups.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16), default="primary")
    """primary, or secondary for alerts about the notification pipeline itself."""
    recipient: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(2), default="vi")
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryAttempt(Base):
    __tablename__ = "notify_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notify_outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    worker: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16))
    """sent, temporary or permanent."""
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class DeadLetter(Base):
    __tablename__ = "notify_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notify_outbox.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    alert_id: Mapped[str | None] = mapped_column(String(64))
    """The alert raised about this dead letter (second route)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AckTokenUse(Base):
    """A used acknowledge token (its nonce): inserting twice fails, so a token works once."""

    __tablename__ = "notify_ack_uses"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(254))
    used_by: Mapped[str] = mapped_column(String(100))
    used_at: Mapped[datetime]


class OncallOverride(Base):
    """Someone covers a schedule for a span, whatever the rotation says."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Silence(Base):
    """Mutes notifications for alerts matching every matcher (field → value) until it expires."""

    __tablename__ = "notify_silences"
    __table_args__ = (CheckConstraint(_in("kind", SILENCE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="silence")
    matchers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    author: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    hits: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Heartbeat(Base):
    """Each outbox worker stamps its row on every pass; a stale stamp means the pipeline stalled."""

    __tablename__ = "notify_heartbeats"

    worker: Mapped[str] = mapped_column(String(100), primary_key=True)
    beat_at: Mapped[datetime]
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
