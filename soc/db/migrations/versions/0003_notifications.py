"""Notifications: on-call schedules, escalation policies, outbox, deliveries, acknowledgement tokens (issue 5).

Reserved so that two features can add their tables side by side in a fixed order; the feature
fills in upgrade() and downgrade().

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
