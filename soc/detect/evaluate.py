"""Evaluate one rule over one ingest-time window: the call the scheduler, `soc hunt` and tests share.

A single-event rule yields one finding per matching event, every page scanned (never truncated).
A correlation rule is handed to `soc.detect.correlate`. A rule that only feeds correlations
(Sigma's `generate: false`, the default) yields nothing itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence

from soc.detect import correlate
from soc.detect.model import Finding, Rule, event_time
from soc.errors import QueryError
from soc.store.base import Agencies, EventStore, Hit, Window, scan
from soc.store.prepare import gc_paused
from soc.store.query import Query, check

PAGE_SIZE = 1000
HISTORY_IN_PASS = 2
"""On an engine, a correlation's history is read whole in the batch pass when it spans at most this
many times the window; of a longer one, the pass reads the window's part (see evaluate_many)."""


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

    The single-event rules are answered in one batch by `search_many`: one pass over the window,
    each event decoded once and routed to the rules of its dataset (an engine's window scrolled out
    once and matched by the same code). The same pass also reads the history of every rule a
    correlation references (on an engine, of a long history only the window's part, see
    HISTORY_IN_PASS), and correlations over the same rule share one history read.
    """
    batch = [r for r in selected if _single(r, rules)]
    requests: list[tuple[Query, Collection[str] | None, Window]] = [
        (r.query, r.datasets, window) for r in batch if r.query is not None
    ]
    histories = correlate.Histories(store, agencies)
    reads = _history_reads([r for r in selected if r.correlation is not None], window, rules)
    if store.backend != "sqlite":
        # An engine's pass would read every event of a long history (a day, for most
        # correlations, every cycle). It reads only the window's part then, which names the
        # groups with new events; correlate.py reads the rest of the history narrowed to them.
        # Histories not much longer than the window (a catch-up chunk, a hunt) are read whole.
        limit = (window.end - window.start) * HISTORY_IN_PASS
        spans = {(r.id, w if w.end - w.start <= limit else window): r for r, w in reads}
        reads = [(r, w) for (_, w), r in spans.items()]
    requests += [(r.query, r.datasets, w) for r, w in reads if r.query is not None]
    found: dict[int, list[Hit]] = {}
    if requests:
        answers = store.search_many(requests, agencies=agencies)
        found = {id(r): hits for r, hits in zip(batch, answers, strict=False)}
        for (r, w), hits in zip(reads, answers[len(batch) :], strict=True):
            histories.put(r, w, hits)
    for rule in selected:
        # The hits of the whole pass are alive (acyclic JSON): a collection while findings and
        # correlation groups are built walks all of them and finds nothing. Paused per rule, never
        # across a yield (the caller's code runs with the collector as it had it).
        with gc_paused():
            if id(rule) in found:
                findings = [_finding(rule, hit) for hit in found[id(rule)]]
            elif rule.correlation is not None:
                findings = list(
                    correlate.evaluate(
                        store, rule, window, rules=rules, agencies=agencies, histories=histories
                    )
                )
            else:
                findings = list(evaluate(store, rule, window, rules=rules, agencies=agencies))
        yield rule, findings


def _history_reads(
    correlations: Sequence[Rule], window: Window, rules: Mapping[str, Rule]
) -> list[tuple[Rule, Window]]:
    """The (referenced rule, history window) reads the correlations split locally will make."""
    out: dict[tuple[str, Window], tuple[Rule, Window]] = {}
    for rule in correlations:
        corr = rule.correlation
        assert corr is not None
        if not correlate.splits_locally(corr) or any(r not in rules for r in corr.rules):
            continue
        history = correlate.history_window(corr, window)
        for ref in corr.rules:
            base = rules[ref]
            if base.query is not None and _checks(base.query):
                out.setdefault((ref, history), (base, history))
    return list(out.values())


def _single(rule: Rule, rules: Mapping[str, Rule]) -> bool:
    """A single-event rule whose query every backend accepts (others fail in `evaluate`, in order)."""
    if rule.correlation is not None or rule.query is None or only_feeds_correlations(rule, rules):
        return False
    return _checks(rule.query)


def _checks(query: Query) -> bool:
    try:
        check(query)
    except QueryError:
        return False
    return True


def _finding(rule: Rule, hit: Hit) -> Finding:
    at = event_time(hit)
    return Finding(rule=rule, group=(), hits=(hit,), count=1, first_at=at, last_at=at)
