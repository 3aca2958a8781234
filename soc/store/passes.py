"""Many queries answered by one pass over the events: each event decoded once and tried only
against the queries of its dataset that its guard lets through (prefilter.py), with the compiled
matcher (matcher.py). The embedded store's batch path, and the engines' too (search.py): there a
detection cycle reads its window once instead of sending every rule's query to the node, where
case-insensitive wildcards scan whole term dictionaries.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Sequence

from soc import ecs
from soc.store.base import Window
from soc.store.matcher import compiled
from soc.store.prefilter import Router, guard
from soc.store.query import And, MatchAll, Not, Or, Query, check

Request = tuple[Query, Collection[str] | None, Window]
"""(query, datasets or None for all, ingest-time window): one read of a batch."""


class Requests:
    """The requests of one `search_many`, compiled: matchers, guards, datasets and windows in ms."""

    def __init__(self, requests: Sequence[Request]) -> None:
        for query, _, _ in requests:
            check(query)
        self.fns = [compiled(q) for q, _, _ in requests]
        self.guards = [guard(q) for q, _, _ in requests]
        self.sets = [None if d is None else frozenset(d) for _, d, _ in requests]
        self.spans = [(ecs.to_millis(w.start), ecs.to_millis(w.end)) for _, _, w in requests]
        # The store's own fields are put back on hits only, unless a query reads them.
        self.full = any(reads_store_fields(q) for q, _, _ in requests)

    def router(self, active: list[int], dataset: str | None) -> Router:
        """The active requests that read `dataset`, routed by their guards."""
        return Router(
            [
                (i, self.guards[i])
                for i in active
                if (wanted := self.sets[i]) is None or (dataset is not None and dataset in wanted)
            ]
        )


def reads_store_fields(query: Query) -> bool:
    """Does the query look at event.hash or event.ingested (which `_load` puts back)?"""
    match query:
        case And(items) | Or(items):
            return any(reads_store_fields(q) for q in items)
        case Not(item):
            return reads_store_fields(item)
        case MatchAll():
            return False
    field = query.field
    return field in (ecs.HASH, ecs.INGESTED) or any(
        f.startswith(field + ".") or field.startswith(f + ".") for f in (ecs.HASH, ecs.INGESTED)
    )


def segments(spans: Sequence[tuple[int, int]]) -> Iterator[tuple[tuple[int, int], list[int]]]:
    """The spans cut where any of them starts or ends, each piece with the requests whose span
    holds it (pieces no span holds are left out): one pass per piece reads every event once."""
    for lo, hi in itertools.pairwise(sorted({ms for span in spans for ms in span})):
        active = [i for i, (a, b) in enumerate(spans) if a <= lo and hi <= b]
        if active:
            yield (lo, hi), active
