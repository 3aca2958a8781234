"""Evaluate one rule over one ingest-time window: the call the scheduler, `soc hunt` and tests share.

A single-event rule yields one finding per matching event, every page scanned (never truncated).
A correlation rule is handed to `soc.detect.correlate`. A rule that only feeds correlations
(Sigma's `generate: false`, the default) yields nothing itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from soc.detect import correlate
from soc.detect.model import Finding, Rule, event_time
from soc.store.base import Agencies, EventStore, Window, scan

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
        at = event_time(hit)
        yield Finding(rule=rule, group=(), hits=(hit,), count=1, first_at=at, last_at=at)


def only_feeds_correlations(rule: Rule, rules: Mapping[str, Rule]) -> bool:
    """True when correlations reference the rule and none of them asks it to alert on its own."""
    referenced = [
        r.correlation for r in rules.values() if r.correlation is not None and rule.id in r.correlation.rules
    ]
    return bool(referenced) and not any(c.generate for c in referenced)
