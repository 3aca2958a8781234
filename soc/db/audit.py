"""The append-only audit log: every change to accounts and tokens, chained by SHA-256.

Each entry's hash covers its canonical JSON and the previous entry's hash, so editing, removing or
reordering an entry breaks the chain from that point on. The database itself refuses UPDATE and
DELETE (triggers from migration 0001). Cutting entries off the end is only detectable against a
hash kept elsewhere, such as the latest hash printed by `soc audit verify`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from soc.db.models import AuditEntry, utcnow

GENESIS = "0" * 64
"""prev_hash of the first entry."""
# Any constant works; it keeps concurrent audit writers on PostgreSQL in line until commit.
_PG_LOCK_KEY = 0x50C_A0D1


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    agency_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the chain (flushed, committed with the caller's transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    session.flush()
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    # A JSON round trip now, so the hash is computed over exactly what the database will return.
    entry = AuditEntry(
        at=(at or utcnow()).astimezone(UTC),
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        agency_id=agency_id,
        detail=json.loads(json.dumps(dict(detail or {}), default=str)),
        prev_hash=prev,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


def canonical(entry: AuditEntry) -> str:
    """The JSON the hash covers: every column except id and hash, keys sorted, no spaces."""
    body = {
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "agency_id": entry.agency_id,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry).encode("utf-8")).hexdigest()


def verify_chain(session: Session) -> list[str]:
    """Every break in the chain, as one line each; an empty list means the log is intact."""
    problems: list[str] = []
    prev = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=500)):
        if entry.prev_hash != prev:
            problems.append(f"audit entry {entry.id}: does not follow the entry before it (gap or reorder)")
        if entry_hash(entry) != entry.hash:
            problems.append(f"audit entry {entry.id}: content does not match its hash (edited)")
        prev = entry.hash
    return problems


def latest(
    session: Session, *, limit: int = 50, agency_id: int | None = None, target_type: str | None = None
) -> list[AuditEntry]:
    """The newest entries first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if agency_id is not None:
        query = query.where(AuditEntry.agency_id == agency_id)
    if target_type is not None:
        query = query.where(AuditEntry.target_type == target_type)
    return list(session.scalars(query))


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0
