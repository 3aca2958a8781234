"""Security-level dossiers in the app database: information systems, dossiers, documents, the
transition log and the reminders already sent.

A dossier's `version` is an optimistic-concurrency counter: every change bumps it, an UPDATE that
finds another version touches no row and fails (SQLAlchemy's version_id_col), and the service also
refuses an action whose caller saw an older version. The transition log is what the dossier went
through, with the document hashes at that moment; it is never rewritten.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from soc.db.models import Agency, Base, utcnow


class InformationSystem(Base):
    """One information system of an agency, as its dossier describes it."""

    __tablename__ = "information_systems"
    __table_args__ = (
        UniqueConstraint("agency_id", "name"),
        CheckConstraint("proposed_level BETWEEN 1 AND 5", name="proposed_level"),
        CheckConstraint("basic_subjects >= 0 AND sensitive_subjects >= 0", name="subjects"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"), index=True)
    operator_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    """The operating unit when it is not the owning agency itself."""
    name: Mapped[str] = mapped_column(String(200))
    system_type: Mapped[str] = mapped_column(String(64))
    proposed_level: Mapped[int] = mapped_column(Integer)
    approved_level: Mapped[int | None] = mapped_column(Integer)
    criteria_basis: Mapped[str] = mapped_column(Text, default="")
    basic_subjects: Mapped[int] = mapped_column(Integer, default=0)
    sensitive_subjects: Mapped[int] = mapped_column(Integer, default=0)
    security_regulation_ref: Mapped[str | None] = mapped_column(String(200))
    security_regulation_issued_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])

    @property
    def operator_id(self) -> int:
        return self.operator_agency_id or self.agency_id


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_agency_state", "agency_id", "state"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    playbook_id: Mapped[str] = mapped_column(String(100))
    regime: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    routing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Routing slot (appraise, approve, opinion) to body, fixed when the level is set."""
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    legacy_approved_on: Mapped[date | None] = mapped_column(Date)
    legacy_deadline: Mapped[date | None] = mapped_column(Date)
    """For dossiers approved under the old regime: when they must meet the new law."""

    agency: Mapped[Agency] = relationship()
    systems: Mapped[list[InformationSystem]] = relationship(
        secondary="dossier_systems", order_by="InformationSystem.id"
    )
    documents: Mapped[list[DossierDocument]] = relationship(
        back_populates="dossier", order_by="DossierDocument.id", cascade="all, delete-orphan"
    )
    transitions: Mapped[list[DossierTransition]] = relationship(
        back_populates="dossier", order_by="DossierTransition.id", cascade="all, delete-orphan"
    )

    # The service bumps `version` itself on every change (uploads included, even within one
    # second); SQLAlchemy still puts the old value in the UPDATE's WHERE clause.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012


class DossierSystem(Base):
    __tablename__ = "dossier_systems"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), primary_key=True)
    system_id: Mapped[int] = mapped_column(
        ForeignKey("information_systems.id", ondelete="RESTRICT"), primary_key=True
    )


class DossierDocument(Base):
    """An uploaded file. Stored under a generated name; `filename` is only ever shown, never opened."""

    __tablename__ = "dossier_documents"
    __table_args__ = (UniqueConstraint("dossier_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    dossier: Mapped[Dossier] = relationship(back_populates="documents")


class DossierTransition(Base):
    """One step a dossier took: who, in which role, when, why, and the documents it carried then."""

    __tablename__ = "dossier_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")
    form: Mapped[str | None] = mapped_column(String(64))
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """[{kind, filename, sha256}] of the dossier's current documents at this step."""
    version: Mapped[int] = mapped_column(Integer)
    """The dossier's version after this step."""

    dossier: Mapped[Dossier] = relationship(back_populates="transitions")


class DossierNotice(Base):
    """A reminder or escalation already handed over for sending; the unique key keeps it to once."""

    __tablename__ = "dossier_notices"
    __table_args__ = (
        # Named by hand: the generated name is longer than PostgreSQL's 63-character limit.
        UniqueConstraint(
            "dossier_id", "deadline", "anchor_at", "kind", "days_before", name="uq_dossier_notices_once"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    deadline: Mapped[str] = mapped_column(String(64))
    anchor_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    days_before: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
