"""Notifications: alert groups, outbox, delivery attempts, dead letters, ack token uses, on-call
overrides, silences and worker heartbeats (issue 5).

Schedules, escalation policies and routes are YAML (soc.notify.oncall); only what changes at run
time is stored here.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule_title", sa.Text(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("notified_count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_notify_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy", sa.String(length=64), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalation_round", sa.Integer(), nullable=False),
        sa.Column("escalation_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_by", sa.String(length=100), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'firing', 'acknowledged', 'resolved')", name=op.f("ck_alert_groups_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_groups")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alert_groups_open_key")),
        sa.UniqueConstraint("public_id", name=op.f("uq_alert_groups_public_id")),
    )
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.create_index("ix_alert_groups_state_next", ["state", "next_notify_at"], unique=False)

    op.create_table(
        "notify_heartbeats",
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_notify_heartbeats")),
    )
    op.create_table(
        "notify_silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('silence', 'maintenance')", name=op.f("ck_notify_silences_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_silences")),
    )
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_overrides")),
    )
    with op.batch_alter_table("oncall_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oncall_overrides_schedule"), ["schedule"], unique=False)

    op.create_table(
        "alert_group_members",
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name=op.f("fk_alert_group_members_group_id_alert_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_group_members")),
    )
    with op.batch_alter_table("alert_group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_group_members_group_id"), ["group_id"], unique=False)

    op.create_table(
        "notify_ack_uses",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("used_by", sa.String(length=100), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name=op.f("fk_notify_ack_uses_group_id_alert_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_notify_ack_uses")),
    )
    with op.batch_alter_table("notify_ack_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_ack_uses_group_id"), ["group_id"], unique=False)

    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("locale", sa.String(length=2), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("in_reply_to", sa.String(length=200), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('firing', 'repeat', 'escalation', 'acknowledged', 'resolved', 'digest', 'dead_letter', "
            "'reminder')",
            name=op.f("ck_notify_outbox_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'dead')", name=op.f("ck_notify_outbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name=op.f("fk_notify_outbox_group_id_alert_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_notify_outbox_message_id")),
    )
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_outbox_group_id"), ["group_id"], unique=False)
        batch_op.create_index("ix_notify_outbox_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "notify_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["notify_outbox.id"],
            name=op.f("fk_notify_attempts_outbox_id_notify_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_attempts")),
    )
    with op.batch_alter_table("notify_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_attempts_outbox_id"), ["outbox_id"], unique=False)

    op.create_table(
        "notify_dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["notify_outbox.id"],
            name=op.f("fk_notify_dead_letters_outbox_id_notify_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_dead_letters")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_notify_dead_letters_outbox_id")),
    )


def downgrade() -> None:
    op.drop_table("notify_dead_letters")
    with op.batch_alter_table("notify_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_attempts_outbox_id"))

    op.drop_table("notify_attempts")
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_outbox_status_next")
        batch_op.drop_index(batch_op.f("ix_notify_outbox_group_id"))

    op.drop_table("notify_outbox")
    with op.batch_alter_table("notify_ack_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_ack_uses_group_id"))

    op.drop_table("notify_ack_uses")
    with op.batch_alter_table("alert_group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_group_members_group_id"))

    op.drop_table("alert_group_members")
    with op.batch_alter_table("oncall_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oncall_overrides_schedule"))

    op.drop_table("oncall_overrides")
    op.drop_table("notify_silences")
    op.drop_table("notify_heartbeats")
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_groups_state_next")

    op.drop_table("alert_groups")
