"""Detection state in the app database: per-rule watermark and lease, run log, gaps, alerts.

The alert table is the dedup authority: its primary key is the deterministic alert id, and rows
are only ever inserted with "on conflict do nothing", so re-runs, backfills and two schedulers
never create an alert twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from soc.db.models import Base, utcnow


class RuleState(Base):
    """One row per rule: the committed watermark (end of the last fully processed window) and the
    lease that lets one scheduler at a time work on the rule."""

    __tablename__ = "rule_states"

    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    watermark_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_run_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleRun(Base):
    """The run log: one row per window evaluated (or attempted), for the rule-health view."""

    __tablename__ = "rule_runs"
    __table_args__ = (Index("ix_rule_runs_rule_started", "rule_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    alerts_created: Mapped[int] = mapped_column(Integer, default=0)
    lag_seconds: Mapped[int] = mapped_column(Integer, default=0)
    """How far behind real time the window ended when it ran."""
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    runner: Mapped[str] = mapped_column(String(100))


class DetectionGap(Base):
    """A span of ingest time a rule did not cover, with why; backfilling it closes it."""

    __tablename__ = "detection_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    backfilled_at: Mapped[datetime | None]


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_agency_created", "agency", "created_at"),
        Index("ix_alerts_rule_created", "rule_id", "created_at"),
        Index("ix_alerts_status_created", "status", "created_at"),
        Index("ix_alerts_assignee", "assignee"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """sha256 over (rule id, rule version, matched events) or (rule id, group, window)."""
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(32))
    rule_title: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(default=list)
    agency: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(Text)
    user_name: Mapped[str | None] = mapped_column(Text)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    group_key: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The matched events: index, id and event.original (evidence survives log retention)."""
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    backfill: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="new")
    """new → acknowledged → in_progress → closed; see soc.triage.states."""
    suppression_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Triage (issue 6). The first entry into each stage is kept so time-to-acknowledge and
    # time-to-resolve come from the row itself; the full history is in alert_transitions.
    assignee: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(16))
    acknowledged_at: Mapped[datetime | None]
    in_progress_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    updated_at: Mapped[datetime | None]


class Suppression(Base):
    """Silence alerts of a rule whose events match `match` (field → value); matches are counted,
    never dropped, and the suppression expires."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str | None] = mapped_column(String(64), index=True)
    match: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    hits: Mapped[int] = mapped_column(Integer, default=0)
