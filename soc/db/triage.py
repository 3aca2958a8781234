"""Triage state in the app database: alert history and comments, incidents, and login sessions.

History rows are only ever inserted: who changed what, when, from → to and why. Incidents keep
their own reporting clock (initial notice and full report deadlines) so reminders can be derived
from the row alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soc.db.models import Base, utcnow


class AlertTransition(Base):
    """One change to an alert: status, assignee, resolution or incident link."""

    __tablename__ = "alert_transitions"
    __table_args__ = (Index("ix_alert_transitions_alert_at", "alert_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(32))
    from_value: Mapped[str | None] = mapped_column(Text)
    to_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class AlertComment(Base):
    __tablename__ = "alert_comments"
    __table_args__ = (Index("ix_alert_comments_alert_at", "alert_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)


class Incident(Base):
    """A case opened from one or more alerts of one agency."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_agency_status", "agency", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    agency: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    owner: Mapped[str | None] = mapped_column(String(64))
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    initial_notice_due: Mapped[datetime]
    full_report_due: Mapped[datetime | None]
    initial_notice_at: Mapped[datetime | None]
    full_report_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)


class IncidentNote(Base):
    __tablename__ = "incident_notes"
    __table_args__ = (Index("ix_incident_notes_incident_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)


class WebSession(Base):
    """A browser login. Only the SHA-256 of the cookie value is stored (like API tokens); the CSRF
    token is per session and compared in constant time."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    client: Mapped[str | None] = mapped_column(String(200))
