"""Evaluate one rule over one ingest-time window: the call the scheduler, `soc hunt` and tests share.

A single-event rule yields one finding per matching event, every page scanned (never truncated).
A correlation rule is handed to `soc.detect.correlate`. A rule that only feeds correlations
(Sigma's `generate: false`, the default) yields nothing itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from soc.detect import correlate
from soc.detect.model import Finding, Rule, event_time
from soc.errors import QueryError
from soc.store.base import Agencies, EventStore, Hit, Window, scan
from soc.store.query import check

PAGE_SIZE = 1000


def evaluate(
    store: EventStore,
    rule: Rule,
    window: Window,
    *,
    rules: Mapping[str, Rule],
    agencies: Agencies = None,
) -> Iterator[Finding]:
    """Findings of `rule` among the events ingested in `window` (correlations look further back)."""
    if rule.correlation is not None:
        yield from correlate.evaluate(store, rule, window, rules=rules, agencies=agencies)
        return
    if rule.query is None or only_feeds_correlations(rule, rules):
        return
    for hit in scan(
        store, rule.query, agencies=agencies, window=window, datasets=rule.datasets, page_size=PAGE_SIZE
    ):
        yield _finding(rule, hit)


def only_feeds_correlations(rule: Rule, rules: Mapping[str, Rule]) -> bool:
    """True when correlations reference the rule and none of them asks it to alert on its own."""
    referenced = [
        r.correlation for r in rules.values() if r.correlation is not None and rule.id in r.correlation.rules
    ]
    return bool(referenced) and not any(c.generate for c in referenced)


def evaluate_many(
    store: EventStore,
    selected: Sequence[Rule],
    window: Window,
    *,
    rules: Mapping[str, Rule],
    agencies: Agencies = None,
) -> Iterator[tuple[Rule, list[Finding]]]:
    """Each rule of `selected` with its findings, in order: what `evaluate` gives rule by rule.

    On a store with `search_many` (SQLite) every single-event rule is answered from one pass over
    the window, each event decoded once and routed to the rules of its dataset; correlations and
    every rule on the engines go through `evaluate`, which each engine answers with its own index.
    """
    batch = [r for r in selected if _single(r, rules)]
    many = getattr(store, "search_many", None)
    found: dict[int, list[Hit]] = {}
    if many is not None and batch:
        queries = [(r.query, r.datasets) for r in batch]
        found = {
            id(r): hits
            for r, hits in zip(batch, many(queries, agencies=agencies, window=window), strict=True)
        }
    for rule in selected:
        if id(rule) in found:
            yield rule, [_finding(rule, hit) for hit in found[id(rule)]]
        else:
            yield rule, list(evaluate(store, rule, window, rules=rules, agencies=agencies))


def _single(rule: Rule, rules: Mapping[str, Rule]) -> bool:
    """A single-event rule whose query every backend accepts (others fail in `evaluate`, in order)."""
    if rule.correlation is not None or rule.query is None or only_feeds_correlations(rule, rules):
        return False
    try:
        check(rule.query)
    except QueryError:
        return False
    return True


def _finding(rule: Rule, hit: Hit) -> Finding:
    at = event_time(hit)
    return Finding(rule=rule, group=(), hits=(hit,), count=1, first_at=at, last_at=at)
