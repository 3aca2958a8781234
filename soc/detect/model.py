"""What detection passes around: a loaded rule, a correlation over rules, and a finding.

Everything here is frozen: a rule is converted once at load time (pySigma mutates its own rule
objects, so nothing of pySigma is kept), and the scheduler, `soc hunt` and `soc rules test` share
the same `Rule` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from soc import ecs
from soc.store.base import Hit
from soc.store.query import Query

LEVELS = ("informational", "low", "medium", "high", "critical")

CorrelationType = Literal["event_count", "value_count", "temporal", "temporal_ordered"]
Operator = Literal["gt", "gte", "lt", "lte", "eq", "neq"]


@dataclass(frozen=True)
class Condition:
    """`count` (or distinct values of `field` for value_count) compared with `value`."""

    op: Operator
    value: int
    field: str | None = None

    def holds(self, n: int) -> bool:
        match self.op:
            case "gt":
                return n > self.value
            case "gte":
                return n >= self.value
            case "lt":
                return n < self.value
            case "lte":
                return n <= self.value
            case "eq":
                return n == self.value
        return n != self.value


@dataclass(frozen=True)
class Correlation:
    """A Sigma correlation over other rules, evaluated as sliding windows of `timespan`.

    `group_by` holds, per referenced rule id, the ECS fields of that rule that make the group key
    (in the order of the correlation's `group-by`, aliases resolved). Windows slide over
    `@timestamp`; events are read back as far as `lookback` before the ingest window so that a
    late event still completes a group whose other events arrived earlier.
    """

    type: CorrelationType
    rules: tuple[str, ...]
    """Referenced rule ids, in the order the rule lists them (temporal_ordered uses it)."""
    group_by: tuple[str, ...]
    """The group-by names as the rule gives them (aliases, or field names)."""
    fields: tuple[tuple[str, tuple[str, ...]], ...]
    """Per referenced rule id: the ECS field for each group-by name."""
    timespan: timedelta
    condition: Condition
    generate: bool = False
    lookback: timedelta = timedelta(hours=24)

    def fields_of(self, rule_id: str) -> tuple[str, ...]:
        return dict(self.fields)[rule_id]


@dataclass(frozen=True)
class Rule:
    id: str
    """Sigma id (uuid)."""
    title: str
    level: str
    """informational|low|medium|high|critical"""
    tags: tuple[str, ...]
    version: str
    """sha256 of the rule file bytes, first 12 hex chars."""
    path: Path
    source: str
    """The rule's YAML text."""
    query: Query | None
    """Single-event rules: the detection, logsource scoping included. None for correlations."""
    datasets: tuple[str, ...] | None
    """event.dataset values the rule reads (None = all)."""
    correlation: Correlation | None
    interval: timedelta = timedelta(minutes=5)
    description: str = ""


@dataclass(frozen=True)
class Finding:
    rule: Rule
    group: tuple[tuple[str, Any], ...]
    """() for single-event rules; ((field, value), ...) for correlations."""
    hits: tuple[Hit, ...]
    """The matched events."""
    count: int
    first_at: datetime
    last_at: datetime
    """Event @timestamp range, UTC."""


def event_time(hit: Hit) -> datetime:
    """The event's @timestamp in UTC (its ingest time if it has none, which the store forbids)."""
    raw = hit.source.get(ecs.TIMESTAMP)
    if raw is None:
        return datetime.fromtimestamp(hit.cursor[0] / 1000, UTC)
    return ecs.parse_time(raw)
