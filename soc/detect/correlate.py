"""Correlation rules as store aggregations plus sliding windows over `@timestamp`.

Groups are always per agency: `organization.id` is the first part of every group key, so events of
two agencies never add up to one alert (and each agency's alert has its own id).

For one ingest window, the history of each referenced rule (its matching events of the last
`lookback`, so state is rebuilt from the store, never kept in memory) is read once and split by
group key on our side; a group is evaluated when it holds a new event (ingested in the window).
On the engines the read is narrowed first: one aggregation over the window names the groups with
new events, and the history read asks only for their values. A window of `timespan` then slides
over each group's events sorted by `@timestamp`; a group fires when some position of that window
holds a new event and satisfies the condition, with the events of the fullest such window.
Only store calls every backend answers identically are used, so SQLite, OpenSearch and
Elasticsearch raise the same findings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from soc import ecs
from soc.detect.model import Correlation, Finding, Rule, event_time
from soc.store import matcher
from soc.store.base import Agencies, EventStore, Hit, Window, scan
from soc.store.query import And, Or, Term, group_key

FILTER_CHUNK = 10_000
"""Group values per history read on an engine (one `terms` query, see dsl.py; the engines allow
65,536 terms by default)."""

EXACT = ("keyword", "ip", "long", "boolean")
"""Field types whose bucket keys are the indexed values themselves (split on our side)."""


@dataclass(frozen=True)
class _Event:
    at_ms: int
    hit: Hit
    rule: int
    """Position of the referenced rule it matched (in the correlation's order)."""
    new: bool


class Histories:
    """History reads shared by the correlations of one cycle (two correlations over the same rule
    and group values read it once). A batch pass may hand over reads it already made."""

    def __init__(self, store: EventStore, agencies: Agencies) -> None:
        self.store, self.agencies = store, agencies
        self._reads: dict[tuple[Any, ...], list[Hit]] = {}
        self._keyed: dict[tuple[Any, ...], list[tuple[Hit, int, set[tuple[Any, ...]]]]] = {}
        self._keys: dict[tuple[str, tuple[str, ...]], set[tuple[Any, ...]]] = {}

    def put(self, rule: Rule, span: Window, hits: list[Hit]) -> None:
        """Every hit of `rule` in `span`, read by a batch pass: a whole history, or (on an engine,
        for a long history) the cycle's window, the end of it."""
        self._reads[(rule.id, span, None)] = hits

    def has(self, rule: Rule, span: Window) -> bool:
        """Is every hit of `rule` in `span` read already (handed over by a batch pass)?"""
        return (rule.id, span, None) in self._reads

    def read(self, rule: Rule, history: Window, narrow: tuple[str, frozenset[Any]] | None) -> list[Hit]:
        """Hits of `rule` in `history`; with `narrow` (field, values) at least those having one of
        the values (a store may return more: the split verifies every event)."""
        for key in ((rule.id, history, None), (rule.id, history, narrow)):
            if key in self._reads:
                return self._reads[key]
        assert rule.query is not None
        seen: dict[str, Hit] = {}
        span = history
        tail = self._tail(rule, history)
        if tail is not None:  # the end of the history came with the batch pass
            span = Window(history.start, tail[0].start)
            for hit in tail[1]:
                seen[hit.id] = hit
        if span.start < span.end and narrow is None:
            for hit in self.store.read_all(
                rule.query, agencies=self.agencies, window=span, datasets=rule.datasets
            ):
                seen.setdefault(hit.id, hit)
        elif span.start < span.end and narrow is not None:
            # Only the group values go to the node (a terms lookup); the rule's own query is
            # matched here by the compiled matcher: on the node its case-insensitive wildcards
            # would walk whole term dictionaries once per chunk (7-10 s per correlation over
            # 200k events, against ~1 s this way).
            match = matcher.compiled(rule.query)
            field, values = narrow
            ordered = sorted(values, key=repr)
            for i in range(0, len(ordered), FILTER_CHUNK):
                terms = Or(tuple(Term(field, v, cased=True) for v in ordered[i : i + FILTER_CHUNK]))
                for hit in self.store.read_all(
                    terms, agencies=self.agencies, window=span, datasets=rule.datasets
                ):
                    if match(hit.source, {}):
                        seen.setdefault(hit.id, hit)
        hits = sorted(seen.values(), key=lambda h: h.cursor)
        self._reads[(rule.id, history, narrow)] = hits
        return hits

    def _tail(self, rule: Rule, history: Window) -> tuple[Window, list[Hit]] | None:
        """A pass's read of `rule` that ends where `history` ends and starts inside it."""
        for (rule_id, span, narrow), hits in self._reads.items():
            if (
                rule_id == rule.id
                and narrow is None
                and span.end == history.end
                and history.start <= span.start
            ):
                return span, hits
        return None

    def keyed(
        self, rule: Rule, history: Window, narrow: tuple[str, frozenset[Any]] | None, fields: tuple[str, ...]
    ) -> list[tuple[Hit, int, set[tuple[Any, ...]]]]:
        """`read`, each hit with its @timestamp in ms and its group keys over `fields` (those with
        at least one): correlations over the same rule and group fields share the work."""
        key = (rule.id, history, narrow, fields)
        found = self._keyed.get(key)
        if found is None:
            found = self._keyed[key] = [
                (hit, ecs.to_millis(event_time(hit)), keys)
                for hit in self.read(rule, history, narrow)
                if (keys := self.keys(hit, fields))
            ]
        return found

    def keys(self, hit: Hit, fields: tuple[str, ...]) -> set[tuple[Any, ...]]:
        """`_keys`, once per event and fields in a cycle (the window's events are keyed to name the
        groups with new events, then again as part of the history)."""
        memo = (hit.id, fields)
        found = self._keys.get(memo)
        if found is None:
            found = self._keys[memo] = _keys(hit, fields)
        return found


def history_window(corr: Correlation, window: Window) -> Window:
    return Window(window.start - corr.lookback, window.end)


def group_fields(corr: Correlation, rule_id: str) -> tuple[str, ...]:
    """The fields of the group key for one referenced rule: the agency, then the group-by fields."""
    return (ecs.AGENCY, *corr.fields_of(rule_id))


def splits_locally(corr: Correlation) -> bool:
    """Can the history be split by group on our side (exactly as term queries per group would)?"""
    return all(ecs.field_type(f) in EXACT for rule_id in corr.rules for f in group_fields(corr, rule_id))


def evaluate(
    store: EventStore,
    rule: Rule,
    window: Window,
    *,
    rules: Mapping[str, Rule],
    agencies: Agencies,
    histories: Histories | None = None,
) -> Iterator[Finding]:
    corr = rule.correlation
    assert corr is not None
    missing = [r for r in corr.rules if r not in rules]
    if missing:
        raise KeyError(f"correlation {rule.id} references rules that are not loaded: {missing}")
    base = [rules[r] for r in corr.rules]
    if splits_locally(corr):
        by_key = _split(corr, base, window, histories or Histories(store, agencies))
        groups = [(k, by_key[k]) for k in sorted(by_key, key=repr) if any(e.new for e in by_key[k])]
    else:
        keys = sorted(_new_groups(store, corr, base, window, agencies), key=repr)
        groups = [(k, _events(store, corr, base, k, window, agencies)) for k in keys]
    names = (ecs.AGENCY, *corr.group_by)
    for key, events in groups:
        span = best_span(corr, events)
        if span is not None:
            hits = _unique(e.hit for e in span)
            yield Finding(
                rule=rule,
                group=tuple(zip(names, key, strict=True)),
                hits=hits,
                count=len(hits),
                first_at=event_time(span[0].hit),
                last_at=event_time(span[-1].hit),
            )


def _split(
    corr: Correlation, base: Sequence[Rule], window: Window, histories: Histories
) -> dict[tuple[Any, ...], list[_Event]]:
    """Every referenced rule's history, split by group key, each group's events in time order."""
    store = histories.store
    narrow: tuple[str, frozenset[Any]] | None = None
    history = history_window(corr, window)
    if store.backend != "sqlite" and not all(histories.has(r, history) for r in base):
        # SQLite scans every row anyway; an engine answers a term filter from its index. The
        # groups with new events: from the window's hits when the batch pass read them, else
        # from an aggregation on the node.
        if all(histories.has(r, window) for r in base):
            new = {
                k
                for r in base
                for hit in histories.read(r, window, None)
                for k in histories.keys(hit, group_fields(corr, r.id))
            }
        else:
            new = _new_groups(store, corr, base, window, histories.agencies)
        if not new:
            return {}
        position = 1 if corr.group_by else 0
        named = {group_fields(corr, r.id)[position] for r in base}
        if len(named) == 1:
            narrow = (named.pop(), frozenset(k[position] for k in new))
    start_ms, end_ms = ecs.to_millis(window.start), ecs.to_millis(window.end)
    out: dict[tuple[Any, ...], list[_Event]] = {}
    for position, rule in enumerate(base):
        for hit, at, keys in histories.keyed(rule, history, narrow, group_fields(corr, rule.id)):
            event = _Event(at, hit, position, start_ms <= hit.cursor[0] < end_ms)
            for key in keys:
                out.setdefault(key, []).append(event)
    for events in out.values():
        events.sort(key=lambda e: (e.at_ms, e.hit.cursor, e.rule))
    return out


def _keys(hit: Hit, fields: Sequence[str]) -> set[tuple[Any, ...]]:
    """The group keys of an event: every combination of its values of the fields (for the EXACT
    types a value's bucket key is the value itself, so a cased term on it matches the event)."""
    return set(product(*(matcher.group_keys(hit.source, f) for f in fields)))


def _new_groups(
    store: EventStore, corr: Correlation, base: Sequence[Rule], window: Window, agencies: Agencies
) -> set[tuple[Any, ...]]:
    keys: set[tuple[Any, ...]] = set()
    for rule in base:
        assert rule.query is not None
        counts = store.group_counts(
            rule.query, group_fields(corr, rule.id), agencies=agencies, window=window, datasets=rule.datasets
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
    """One group's history, read with term queries on its key (group fields of other types)."""
    history = history_window(corr, window)
    start_ms, end_ms = ecs.to_millis(window.start), ecs.to_millis(window.end)
    out: list[_Event] = []
    for position, rule in enumerate(base):
        assert rule.query is not None
        # Bucket keys are exact values: match them exactly, not case-insensitively.
        terms = [Term(f, v, cased=True) for f, v in zip(group_fields(corr, rule.id), key, strict=True)]
        query = And((rule.query, *terms))
        for hit in scan(store, query, agencies=agencies, window=history, datasets=rule.datasets):
            at = ecs.to_millis(event_time(hit))
            out.append(_Event(at, hit, position, start_ms <= hit.cursor[0] < end_ms))
    out.sort(key=lambda e: (e.at_ms, e.hit.cursor, e.rule))
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
            return len({group_key(v) for e in span for v in matcher.values(e.hit.source, field)})
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
