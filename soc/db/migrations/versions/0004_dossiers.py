"""Dossiers: information systems, security-level dossiers, their documents, transition log and the
reminders already sent (issue 7).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("playbook_id", sa.String(length=100), nullable=False),
        sa.Column("regime", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legacy_approved_on", sa.Date(), nullable=True),
        sa.Column("legacy_deadline", sa.Date(), nullable=True),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_dossiers_level")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_dossiers_agency_id_agencies"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossiers")),
    )
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.create_index("ix_dossiers_agency_state", ["agency_id", "state"], unique=False)

    op.create_table(
        "information_systems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("operator_agency_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("system_type", sa.String(length=64), nullable=False),
        sa.Column("proposed_level", sa.Integer(), nullable=False),
        sa.Column("approved_level", sa.Integer(), nullable=True),
        sa.Column("criteria_basis", sa.Text(), nullable=False),
        sa.Column("basic_subjects", sa.Integer(), nullable=False),
        sa.Column("sensitive_subjects", sa.Integer(), nullable=False),
        sa.Column("security_regulation_ref", sa.String(length=200), nullable=True),
        sa.Column("security_regulation_issued_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "basic_subjects >= 0 AND sensitive_subjects >= 0", name=op.f("ck_information_systems_subjects")
        ),
        sa.CheckConstraint(
            "proposed_level BETWEEN 1 AND 5", name=op.f("ck_information_systems_proposed_level")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_information_systems_agency_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["operator_agency_id"],
            ["agencies.id"],
            name=op.f("fk_information_systems_operator_agency_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_information_systems")),
        sa.UniqueConstraint("agency_id", "name", name=op.f("uq_information_systems_agency_id_name")),
    )
    with op.batch_alter_table("information_systems", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_information_systems_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "dossier_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=100), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_documents_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_documents")),
        sa.UniqueConstraint("dossier_id", "sha256", name=op.f("uq_dossier_documents_dossier_id_sha256")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_dossier_documents_stored_name")),
    )
    with op.batch_alter_table("dossier_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dossier_documents_dossier_id"), ["dossier_id"], unique=False)

    op.create_table(
        "dossier_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.String(length=64), nullable=False),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_notices_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_notices")),
        sa.UniqueConstraint(
            "dossier_id", "deadline", "anchor_at", "kind", "days_before", name="uq_dossier_notices_once"
        ),
    )
    with op.batch_alter_table("dossier_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dossier_notices_dossier_id"), ["dossier_id"], unique=False)

    op.create_table(
        "dossier_systems",
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_systems_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["information_systems.id"],
            name=op.f("fk_dossier_systems_system_id_information_systems"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("dossier_id", "system_id", name=op.f("pk_dossier_systems")),
    )
    op.create_table(
        "dossier_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=64), nullable=False),
        sa.Column("to_state", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("body", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=True),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_transitions_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_transitions")),
    )
    with op.batch_alter_table("dossier_transitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dossier_transitions_dossier_id"), ["dossier_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dossier_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_transitions_dossier_id"))

    op.drop_table("dossier_transitions")
    op.drop_table("dossier_systems")
    with op.batch_alter_table("dossier_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_notices_dossier_id"))

    op.drop_table("dossier_notices")
    with op.batch_alter_table("dossier_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_documents_dossier_id"))

    op.drop_table("dossier_documents")
    with op.batch_alter_table("information_systems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_information_systems_agency_id"))

    op.drop_table("information_systems")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_index("ix_dossiers_agency_state")

    op.drop_table("dossiers")
