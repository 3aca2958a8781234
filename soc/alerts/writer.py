"""Create-only writes of alert rows, with active suppressions applied (counted, never dropped).

A suppression's `match` holds exact field values (`{"host.name": "web1"}`) and/or a Sigma
detection under the key "sigma" (YAML with `selection:`-style items and an optional `condition`,
default "all of them"), in ECS field names. Either way it is matched against what the alert row
keeps: host.name, user.name, source.ip, organization.id, rule.id, rule.name, the group key's
fields, and the matched events' `event.original` (also searchable as `message`, for keywords).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import yaml
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from soc import ecs
from soc.db.detection import Alert, Suppression
from soc.detect import pipeline
from soc.detect.convert import ConversionError, _node
from soc.errors import QueryError
from soc.store.query import And, Cidr, Exists, Not, Or, Query, Range, Regex, Term, Wildcard, check, matches

log = logging.getLogger(__name__)
SIGMA_KEY = "sigma"


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
        suppression = next((s for s in active if suppresses(s, row)), None)
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


def suppresses(suppression: Suppression, row: dict[str, Any]) -> bool:
    if suppression.rule_id not in (None, row["rule_id"]):
        return False
    exact = {k: v for k, v in suppression.match.items() if k != SIGMA_KEY}
    if not all(_field(row, k) == str(v) for k, v in exact.items()):
        return False
    snippet = suppression.match.get(SIGMA_KEY)
    if snippet is None:
        return True
    try:
        return matches(alert_document(row), sigma_filter(str(snippet)))
    except (ValueError, QueryError) as exc:
        # A filter that stopped compiling suppresses nothing: the alert is kept and shown.
        log.error("suppression %s has a Sigma filter that no longer compiles: %s", suppression.id, exc)
        return False


class FilterError(ValueError):
    """A Sigma filter snippet that cannot be used; the message says why."""


@lru_cache(maxsize=256)
def sigma_filter(text: str) -> Query:
    """A Sigma detection snippet (ECS field names) as a query over `alert_document`.

    Raises FilterError with the reason: bad YAML, not a detection, pySigma refusing it, or a field
    the alert row does not keep (such a filter could never match).
    """
    try:
        detection = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FilterError(f"the Sigma filter is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(detection, dict) or not detection:
        raise FilterError("the Sigma filter must be a detection: named selections and an optional condition")
    detection = dict(detection)
    detection.setdefault("condition", "all of them")
    rule = {"title": "suppression", "logsource": {"product": "soc"}, "detection": detection}
    try:
        parsed = SigmaRule.from_dict(rule).detection.parsed_condition
        trees = [_node(c.parsed, pipeline.Source(datasets=())) for c in parsed]
    except (SigmaError, ConversionError) as exc:
        raise FilterError(f"the Sigma filter is refused: {str(exc).split(' in file ')[0]}") from None
    query: Query = trees[0] if len(trees) == 1 else Or(tuple(trees))
    try:
        check(query)
    except QueryError as exc:
        raise FilterError(f"the Sigma filter is refused: {exc}") from None
    return query


ALERT_FIELDS = ("host.name", "user.name", "source.ip", "organization.id", "rule.id", "rule.name", "message")
"""Fields every alert keeps for suppressions (plus its rule's group-key fields)."""


def filter_fields(query: Query) -> set[str]:
    """The fields a query reads."""
    match query:
        case And(items) | Or(items):
            return set().union(*(filter_fields(q) for q in items))
        case Not(item):
            return filter_fields(item)
        case Term() | Wildcard() | Regex() | Cidr() | Exists() | Range():
            return {query.field}
    return set()


def alert_document(row: dict[str, Any]) -> dict[str, Any]:
    """What a suppression sees of an alert row, as an ECS document."""
    doc: dict[str, Any] = {}
    fields: list[tuple[str, Any]] = [(str(k), v) for k, v in (row.get("group_key") or {}).items()]
    fields += [(name, row.get(column)) for name, column in _COLUMNS.items()]
    fields += [("rule.id", row["rule_id"]), ("rule.name", row.get("rule_title"))]
    fields.append(("message", [str(e["original"]) for e in row.get("events") or [] if e.get("original")]))
    for name, value in fields:
        if value is None or value == []:
            continue
        try:
            ecs.put(doc, name, value)
        except (TypeError, AttributeError):  # a group key with both `host` and `host.name`
            continue
    return doc


_COLUMNS = {
    "host.name": "host",
    "user.name": "user_name",
    "source.ip": "source_ip",
    "organization.id": "agency",
}


def _field(row: dict[str, Any], name: str) -> str | None:
    value = row[_COLUMNS[name]] if name in _COLUMNS else row["group_key"].get(name)
    return None if value is None else str(value)
