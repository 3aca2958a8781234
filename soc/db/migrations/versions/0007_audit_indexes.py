"""Indexes for the audit log page's filters (action, target, actor); it scanned the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_entries_action_at", "audit_entries", ["action", "at"])
    op.create_index("ix_audit_entries_target", "audit_entries", ["target_type", "target_id"])
    op.create_index("ix_audit_entries_actor_at", "audit_entries", ["actor", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_actor_at", table_name="audit_entries")
    op.drop_index("ix_audit_entries_target", table_name="audit_entries")
    op.drop_index("ix_audit_entries_action_at", table_name="audit_entries")
