"""The audit log for admins: newest first, filtered by actor, action, target type, agency and time,
in keyset pages (by entry id, so page 1,000 costs what page 1 costs), with the hash chain checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.models import Agency, AuditEntry
from soc.triage.principal import Invalid, Principal

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    """Exact, or a prefix when it ends with a dot or `*` (`rule.` or `rule*`: every rule action)."""
    target_type: str | None = None
    agency: str | None = None
    """Agency code."""
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    next_before: int | None
    """Pass as `before` for the next (older) page; None on the last page."""
    agencies: dict[int, str] = field(default_factory=dict)
    """Agency id → code, for the entries shown."""


@dataclass
class ChainCheck:
    ok: bool
    entries: int
    latest_hash: str | None
    problems: list[str]


def _conditions(session: Session, f: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.actor:
        where.append(AuditEntry.actor == f.actor)
    if f.action:
        if f.action.endswith(("*", ".")):
            prefix = f.action.rstrip("*")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(AuditEntry.action.like(escaped + "%", escape="\\"))
        else:
            where.append(AuditEntry.action == f.action)
    if f.target_type:
        where.append(AuditEntry.target_type == f.target_type)
    if f.agency:
        agency_id = session.scalar(select(Agency.id).where(Agency.code == f.agency))
        where.append(AuditEntry.agency_id == agency_id if agency_id is not None else false())
    if f.since:
        where.append(AuditEntry.at >= f.since)
    if f.until:
        where.append(AuditEntry.at < f.until)
    return where


def entries(
    session: Session,
    principal: Principal,
    f: AuditFilter,
    *,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    principal.require("audit.read")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    where = _conditions(session, f)
    if before is not None:
        where.append(AuditEntry.id < before)
    rows = list(
        session.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.id.desc()).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ids = {e.agency_id for e in rows if e.agency_id is not None}
    codes = {
        int(i): str(c) for i, c in session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(ids)))
    }
    return AuditPage(rows, rows[-1].id if more and rows else None, codes)


def check_chain(session: Session, principal: Principal) -> ChainCheck:
    """soc.db.audit.verify_chain over the whole log, with the newest hash to keep elsewhere."""
    principal.require("audit.read")
    problems = audit.verify_chain(session)
    latest = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return ChainCheck(not problems, int(count), latest, problems)


def choices(session: Session, principal: Principal) -> tuple[list[str], list[str]]:
    """Actions and target types present in the log, for the filter form."""
    principal.require("audit.read")
    actions = list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
    types = list(session.scalars(select(AuditEntry.target_type).distinct().order_by(AuditEntry.target_type)))
    return actions, types
