"""Create-only writes of alert rows, with active suppressions applied (counted, never dropped)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from soc.db.detection import Alert, Suppression


def write_alerts(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Insert alert rows whose id is not stored yet; returns how many were new.

    A row matched by an unexpired suppression is stored with status "suppressed" and the match is
    counted on the suppression (once: a re-run that finds the alert already stored counts nothing).
    """
    if not rows:
        return 0
    active = list(session.scalars(select(Suppression).where(Suppression.expires_at > now)))
    existing: set[str] = set()
    ids = [row["id"] for row in rows]
    for start in range(0, len(ids), 500):
        existing.update(session.scalars(select(Alert.id).where(Alert.id.in_(ids[start : start + 500]))))
    new_rows: list[dict[str, Any]] = []
    hits: dict[int, int] = {}
    for row in rows:
        if row["id"] in existing:
            continue
        existing.add(row["id"])
        suppression = next((s for s in active if _matches(s, row)), None)
        if suppression is not None:
            row = {**row, "suppression_id": suppression.id, "status": "suppressed"}
            hits[suppression.id] = hits.get(suppression.id, 0) + 1
        new_rows.append(row)
    if new_rows:
        # Still "on conflict do nothing": a row a concurrent writer stored meanwhile is skipped.
        session.execute(_insert_ignoring_duplicates(session), new_rows)
    for suppression_id, n in hits.items():
        session.execute(
            update(Suppression).where(Suppression.id == suppression_id).values(hits=Suppression.hits + n)
        )
    return len(new_rows)


def _insert_ignoring_duplicates(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(Alert).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite.insert(Alert).on_conflict_do_nothing(index_elements=["id"])
    raise NotImplementedError(f"create-only alert insert is not written for {dialect}")


def _matches(suppression: Suppression, row: dict[str, Any]) -> bool:
    if suppression.rule_id not in (None, row["rule_id"]):
        return False
    return all(_field(row, k) == str(v) for k, v in suppression.match.items())


_COLUMNS = {
    "host.name": "host",
    "user.name": "user_name",
    "source.ip": "source_ip",
    "organization.id": "agency",
}


def _field(row: dict[str, Any], name: str) -> str | None:
    value = row[_COLUMNS[name]] if name in _COLUMNS else row["group_key"].get(name)
    return None if value is None else str(value)
