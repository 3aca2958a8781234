"""Correlation rules as store aggregations plus sliding windows over `@timestamp`.

For one ingest window: `group_counts` finds the groups with at least one new matching event
(ingested in the window); for each such group the matching events of the last `lookback` are read
back with `search` (so state is rebuilt from the store, never kept in memory), sorted by
`@timestamp`, and a window of `timespan` slides over them. A group fires when some position of
that window holds a new event and satisfies the condition; the finding carries the events of the
fullest such window. Only store calls every backend answers identically are used, so SQLite,
OpenSearch and Elasticsearch raise the same findings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from soc import ecs
from soc.detect.model import Correlation, Finding, Rule, event_time
from soc.store.base import Agencies, EventStore, Hit, Window, scan
from soc.store.query import And, Query, Term, indexed_values, matches
from soc.store.sqlite import group_key


@dataclass(frozen=True)
class _Event:
    at_ms: int
    hit: Hit
    rule: int
    """Position of the referenced rule it matched (in the correlation's order)."""
    new: bool


def evaluate(
    store: EventStore, rule: Rule, window: Window, *, rules: Mapping[str, Rule], agencies: Agencies
) -> Iterator[Finding]:
    corr = rule.correlation
    assert corr is not None
    missing = [r for r in corr.rules if r not in rules]
    if missing:
        raise KeyError(f"correlation {rule.id} references rules that are not loaded: {missing}")
    base = [rules[r] for r in corr.rules]
    keys = sorted(_new_groups(store, corr, base, window, agencies), key=repr)
    by_key = _events_by_key(store, corr, base, window, agencies) if _bulk(store, corr, base) else None
    for key in keys:
        if by_key is None:
            events = _events(store, corr, base, key, window, agencies)
        else:
            events = sorted(by_key.get(key, ()), key=lambda e: (e.at_ms, e.hit.cursor, e.rule))
        span = best_span(corr, events)
        if span is not None:
            hits = _unique(e.hit for e in span)
            yield Finding(
                rule=rule,
                group=tuple(zip(corr.group_by, key, strict=True)),
                hits=hits,
                count=len(hits),
                first_at=event_time(span[0].hit),
                last_at=event_time(span[-1].hit),
            )


def _new_groups(
    store: EventStore, corr: Correlation, base: Sequence[Rule], window: Window, agencies: Agencies
) -> set[tuple[Any, ...]]:
    keys: set[tuple[Any, ...]] = set()
    for rule in base:
        assert rule.query is not None
        fields = corr.fields_of(rule.id)
        if not fields:
            if store.count(rule.query, agencies=agencies, window=window, datasets=rule.datasets):
                keys.add(())
            continue
        counts = store.group_counts(
            rule.query, fields, agencies=agencies, window=window, datasets=rule.datasets
        )
        keys.update(counts)
    return keys


def _events(
    store: EventStore,
    corr: Correlation,
    base: Sequence[Rule],
    key: tuple[Any, ...],
    window: Window,
    agencies: Agencies,
) -> list[_Event]:
    history = Window(window.start - corr.lookback, window.end)
    start_ms, end_ms = ecs.to_millis(window.start), ecs.to_millis(window.end)
    out: list[_Event] = []
    for position, rule in enumerate(base):
        assert rule.query is not None
        # Bucket keys are exact values: match them exactly, not case-insensitively.
        terms: list[Query] = [
            Term(f, v, cased=True) for f, v in zip(corr.fields_of(rule.id), key, strict=True)
        ]
        query = And((rule.query, *terms)) if terms else rule.query
        for hit in scan(store, query, agencies=agencies, window=history, datasets=rule.datasets):
            at = ecs.to_millis(event_time(hit))
            out.append(_Event(at, hit, position, start_ms <= hit.cursor[0] < end_ms))
    out.sort(key=lambda e: (e.at_ms, e.hit.cursor, e.rule))
    return out


def _bulk(store: EventStore, corr: Correlation, base: Sequence[Rule]) -> bool:
    """Read the history once and split it by group, instead of one read per group?

    On SQLite a read per group decodes the whole history again (quadratic in the number of
    groups); the engines answer the per-group term queries from their index. Only for group
    fields whose bucket keys are the indexed values themselves, so both ways find the same events.
    """
    exact = ("keyword", "ip", "long", "boolean")
    return store.backend == "sqlite" and all(
        ecs.field_type(f) in exact for rule in base for f in corr.fields_of(rule.id)
    )


def _events_by_key(
    store: EventStore, corr: Correlation, base: Sequence[Rule], window: Window, agencies: Agencies
) -> dict[tuple[Any, ...], list[_Event]]:
    """What `_events` returns for every group at once, each event verified with the group's terms."""
    history = Window(window.start - corr.lookback, window.end)
    start_ms, end_ms = ecs.to_millis(window.start), ecs.to_millis(window.end)
    out: dict[tuple[Any, ...], list[_Event]] = {}
    for position, rule in enumerate(base):
        assert rule.query is not None
        fields = corr.fields_of(rule.id)
        for hit in scan(store, rule.query, agencies=agencies, window=history, datasets=rule.datasets):
            per_field = [{group_key(v) for v in indexed_values(hit.source, f)} for f in fields]
            for key in set(product(*per_field)):
                terms = [Term(f, v, cased=True) for f, v in zip(fields, key, strict=True)]
                if all(matches(hit.source, t) for t in terms):
                    at = ecs.to_millis(event_time(hit))
                    out.setdefault(key, []).append(
                        _Event(at, hit, position, start_ms <= hit.cursor[0] < end_ms)
                    )
    return out


def best_span(corr: Correlation, events: Sequence[_Event]) -> list[_Event] | None:
    """The fullest window of `timespan` (inclusive) that holds a new event and meets the condition."""
    span_ms = int(corr.timespan.total_seconds() * 1000)
    best: list[_Event] | None = None
    end = 0
    for start in range(len(events)):
        end = max(end, start)
        while end + 1 < len(events) and events[end + 1].at_ms - events[start].at_ms <= span_ms:
            end += 1
        span = list(events[start : end + 1])
        if not any(e.new for e in span) or not corr.condition.holds(_measure(corr, span)):
            continue
        if best is None or len(span) > len(best):
            best = span
    return best


def _measure(corr: Correlation, span: Sequence[_Event]) -> int:
    match corr.type:
        case "event_count":
            return len({e.hit.id for e in span})
        case "value_count":
            assert corr.condition.field is not None
            field = corr.condition.field
            return len({group_key(v) for e in span for v in indexed_values(e.hit.source, field)})
        case "temporal":
            return len({e.rule for e in span})
    wanted = 0  # temporal_ordered: how many of the rules occur in their order
    for e in span:
        if wanted < len(corr.rules) and e.rule == wanted:
            wanted += 1
    return wanted


def _unique(hits: Iterator[Hit]) -> tuple[Hit, ...]:
    seen: dict[str, Hit] = {}
    for hit in hits:
        seen.setdefault(hit.id, hit)
    return tuple(seen.values())
