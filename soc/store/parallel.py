"""An engine's detection pass split over processes: the window scrolled in slices, each slice
matched by its own process.

Why processes: the pass is CPU-bound in the client (decoding ~30 Python objects per event and
matching them, ~40 µs per event), Python threads share one core, and the node needs little
while it scrolls. With a sliced scroll (`slice: {id, max}`, both engines) every process reads a
disjoint share of the events; its hits come back pickled (shared hits stay shared). 302 rules
over 1M events on a 2-core machine: see docs/benchmarks.md.

The workers are spawned (never forked: the service runs threads) and kept for the life of the
store; each builds its own engine client from the settings once.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from typing import Any

import orjson

from soc import ecs
from soc.store.base import Hit
from soc.store.clients import Engine
from soc.store.passes import Request, Requests
from soc.store.prefilter import Router

log = logging.getLogger(__name__)

ToHit = Callable[[dict[str, Any]], Hit]


def match_pages(
    pages: Iterator[list[dict[str, Any]]], batch: Requests, active: list[int], to_hit: ToHit
) -> list[list[Hit]]:
    """The hits of each `active` request among the scrolled events (in `active`'s order)."""
    out: list[list[Hit]] = [[] for _ in active]
    slot = {i: n for n, i in enumerate(active)}
    routes: dict[Any, Router] = {}
    fns = batch.fns
    for page in pages:
        for raw in page:
            doc = raw["_source"]
            event = doc.get("event")
            dataset = event.get("dataset") if isinstance(event, dict) else None
            router = routes.get(dataset)
            if router is None:
                name = dataset if isinstance(dataset, str) else None
                router = routes[dataset] = batch.router(active, name)
            if router.empty:
                continue
            memo: dict[Any, Any] = {}
            hit: Hit | None = None
            for i in router.candidates(doc, memo):
                if fns[i](doc, memo):
                    if hit is None:
                        hit = to_hit(raw)
                    out[slot[i]].append(hit)
    return out


def prefetched(pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """The pages of `pages`, the next one fetched by a thread while the caller matches this one
    (the node searches and the client waits on the socket without the GIL)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scroll") as fetcher:
        pending = fetcher.submit(next, pages, None)
        try:
            while (page := pending.result()) is not None:
                pending = fetcher.submit(next, pages, None)
                yield page
        finally:
            pending.cancel()
            wait([pending])
            close = getattr(pages, "close", None)
            if close is not None:
                close()  # clears the scroll on the engine


class Pool:
    """Worker processes for sliced passes, started on first use."""

    def __init__(self, settings: Any, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self._executor: ProcessPoolExecutor | None = None

    def submit(
        self, index: str, body: dict[str, Any], requests: Sequence[Request], active: list[int], slices: int
    ) -> list[Future[bytes]]:
        """Slices 1..`slices - 1` of the pass, one task each (the caller reads slice 0)."""
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(max_workers=self.workers - 1, mp_context=context)
        return [
            self._executor.submit(
                _slice,
                self.settings,
                index,
                {**body, "slice": {"field": ecs.TIMESTAMP, "id": n, "max": slices}},
                requests,
                active,
            )
            for n in range(1, slices)
        ]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def sliced(body: dict[str, Any], n: int, slices: int) -> dict[str, Any]:
    """Slice `n` of `slices`, split on @timestamp's doc values: slicing on `_id` (the default when
    there are more slices than shards) walks every id of the index per slice."""
    return {**body, "slice": {"field": ecs.TIMESTAMP, "id": n, "max": slices}}


_engines: dict[Any, Engine] = {}


def _slice(
    settings: Any, index: str, body: dict[str, Any], requests: Sequence[Request], active: list[int]
) -> bytes:
    """In a worker: one slice of a pass, its hits as JSON (`unpack`): orjson gives them back to the
    caller ~4x faster than pickle would (which rebuilds dicts through the generic protocol)."""
    from soc.store.clients import connect

    began = time.perf_counter()
    engine = _engines.get(settings)
    if engine is None:
        engine = _engines[settings] = connect(settings)
    from soc.store.prepare import gc_paused

    with gc_paused():  # as in the caller's pass: thousands of acyclic hits alive
        out = match_pages(prefetched(engine.scroll(index, body)), Requests(requests), active, _raw_hit)
    rows: dict[int, list[Any]] = {}
    for slot, hits in enumerate(out):
        for hit in hits:
            row = rows.get(id(hit))
            if row is None:
                row = rows[id(hit)] = [hit.id, hit.index, hit.source, []]
            row[3].append(slot)
    log.debug("slice %s matched in %.1f s", body.get("slice"), time.perf_counter() - began)
    return orjson.dumps(list(rows.values()))


def unpack(blob: bytes, slots: int, to_hit: ToHit) -> list[list[Hit]]:
    """A worker's answer as `match_pages` gives it."""
    out: list[list[Hit]] = [[] for _ in range(slots)]
    for hit_id, index, source, where in orjson.loads(blob):
        hit = to_hit({"_id": hit_id, "_index": index, "_source": source})
        for slot in where:
            out[slot].append(hit)
    return out


def _raw_hit(raw: dict[str, Any]) -> Hit:
    return Hit(raw["_id"], raw["_index"], raw["_source"], (0, ""))
