"""The event store on Elasticsearch or OpenSearch: indices per agency, dataset and period
(periods.py), one template.

Writes use the bulk `create` action with the deterministic id, so a re-sent batch answers 409 per
document (counted as a duplicate) instead of storing it twice. Reads page with search_after on
(event.ingested, event.hash), a unique total order, so no result set is ever cut at 10,000.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import orjson

from soc import ecs
from soc.errors import StoreError
from soc.settings import Settings
from soc.store import dsl, parallel, passes, periods, prepare
from soc.store.base import Agencies, Cursor, DocError, Hit, Page, Partition, Window, WriteResult
from soc.store.clients import Engine
from soc.store.query import MatchAll, Query

log = logging.getLogger(__name__)

CHUNK_DOCS = 5000
CHUNK_BYTES = 8 * 1024 * 1024
RETRIES = 5  # for documents the engine pushed back with 429 (queue full)
SORT = [{ecs.INGESTED: "asc"}, {ecs.HASH: "asc"}]
PAGE = 1000
PARALLEL_MIN = 50_000
"""Events in a pass's window from which it is split over the worker processes (below, starting
the slices costs more than it saves)."""


class SearchStore:
    def __init__(
        self,
        engine: Engine,
        *,
        prefix: str = "soc",
        replicas: int = 0,
        period: Callable[[str], str] | None = None,
        settings: Settings | None = None,
        workers: int = 1,
    ) -> None:
        """`settings` (the ones `engine` was made from) and `workers` > 1: a detection pass over a
        big window is split over that many processes (parallel.py), each with its own client."""
        self.engine = engine
        self._pool = parallel.Pool(settings, workers) if settings is not None and workers > 1 else None
        self.backend = engine.name
        self.prefix = prefix
        self.replicas = replicas
        self.period = period
        """dataset slug -> index period (periods.chooser); None: daily indices."""
        self.events = f"{prefix}-events-*"

    def ensure_schema(self) -> None:
        try:
            template = dsl.events_template(self.prefix, replicas=self.replicas)
            self.engine.put_template(f"{self.prefix}-events", template)
            rejected = dsl.rejected_template(self.prefix, replicas=self.replicas)
            self.engine.put_template(f"{self.prefix}-rejected", rejected)
        except Exception as exc:
            raise StoreError(f"{self.backend}: cannot install index templates: {exc}") from exc

    def write(
        self, docs: Sequence[Mapping[str, Any]], *, agency: str, now: datetime | None = None
    ) -> WriteResult:
        at = now or datetime.now(UTC)
        result = WriteResult(ids=[None] * len(docs))
        # Prepare the next chunk while the engine indexes the current one.
        with ThreadPoolExecutor(max_workers=1) as sender, prepare.gc_paused():
            pending: Future[None] | None = None
            for chunk in self._chunks(docs, agency, now, result):
                if pending is not None:
                    pending.result()
                pending = sender.submit(self._send, chunk, agency, at, result)
            if pending is not None:
                pending.result()
        result.errors.sort(key=lambda e: e.position)
        return result

    def _chunks(
        self, docs: Sequence[Mapping[str, Any]], agency: str, now: datetime | None, result: WriteResult
    ) -> Iterator[list[tuple[int, prepare.Prepared, bytes]]]:
        """Chunks of bulk lines. Unless the caller fixed `now`, each chunk is stamped with
        event.ingested when it is prepared, just before it is sent: a long write must not stamp
        its last chunk with its start time, or a detection window could close before that chunk
        is searchable (the settle delay only has to cover one chunk plus the refresh interval)."""
        chunk: list[tuple[int, prepare.Prepared, bytes]] = []
        size = 0
        batch = prepare.Batch(
            agency=agency, ingested=now or datetime.now(UTC), prefix=self.prefix, period=self.period
        )
        for position, raw in enumerate(docs):
            if not chunk and now is None:
                batch = prepare.Batch(
                    agency=agency, ingested=datetime.now(UTC), prefix=self.prefix, period=self.period
                )
            at = batch.ingested_at
            p = batch.prepare(raw)
            if isinstance(p, prepare.Rejected):
                result.errors.append(DocError(position, p.reason))
                self._quarantine(agency, at, p.reason, p.original)
                continue
            line = orjson.dumps({"create": {"_index": p.index, "_id": p.id}}) + b"\n"
            line += orjson.dumps(p.doc) + b"\n"
            chunk.append((position, p, line))
            size += len(line)
            if len(chunk) >= CHUNK_DOCS or size >= CHUNK_BYTES:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk

    def _send(
        self, chunk: list[tuple[int, prepare.Prepared, bytes]], agency: str, at: datetime, result: WriteResult
    ) -> None:
        for attempt in range(RETRIES + 1):
            try:
                response = self.engine.bulk(b"".join(line for *_, line in chunk))
            except Exception as exc:
                raise StoreError(f"{self.backend}: bulk request failed: {exc}") from exc
            retry: list[tuple[int, prepare.Prepared, bytes]] = []
            for (position, p, line), item in zip(chunk, response["items"], strict=True):
                outcome = item.get("create", {})
                status = outcome.get("status", 500)
                if status == 201:
                    result.created += 1
                    result.ids[position] = p.id
                elif status == 409:
                    result.duplicates += 1
                    result.ids[position] = p.id
                elif status == 429 and attempt < RETRIES:
                    retry.append((position, p, line))
                else:
                    reason = _reason(outcome.get("error"))
                    result.errors.append(DocError(position, reason, p.id))
                    self._quarantine(agency, at, reason, p.doc)
            if not retry:
                return
            chunk = retry
            time.sleep(0.2 * 2**attempt)

    def _quarantine(self, agency: str, at: datetime, reason: str, original: Any) -> None:
        try:
            text = orjson.dumps(original).decode()
        except TypeError:
            text = repr(original)
        doc = {
            "@timestamp": ecs.format_time(at),
            "organization": {"id": agency},
            "error": {"message": reason},
            "soc": {"rejected": text},
        }
        try:
            self.engine.index(f"{self.prefix}-rejected-{at:%Y.%m}", doc)
        except Exception as exc:
            raise StoreError(f"{self.backend}: cannot quarantine a rejected event: {exc}") from exc

    def search(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
        size: int = 1000,
        after: Cursor | None = None,
    ) -> Page:
        body = _page_body(query, agencies, window, datasets, size, after)
        return _page(self._call(self.engine.search, self.events, body), size)

    def read_all(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> list[Hit]:
        body = {"query": dsl.scoped(query, agencies, window, datasets)}
        hits = [
            _hit(raw)
            for page in parallel.prefetched(self._call(self.engine.scroll, self.events, body))
            for raw in page
        ]
        hits.sort(key=lambda h: h.cursor)
        return hits

    def search_many(
        self,
        requests: Sequence[tuple[Query, Collection[str] | None, Window]],
        *,
        agencies: Agencies,
    ) -> list[list[Hit]]:
        """Every hit of each (query, datasets, window), in `search` order. The windows are cut
        where they start and end; each piece's events (of the datasets some request reads) are
        scrolled out of the engine once and matched here by the embedded store's pass
        (passes.py: the same compiled matcher and guards). A detection cycle's batch path.

        Why not one query per rule on the node: a case-insensitive wildcard (`*whoami*`, most
        Sigma rules) walks the whole term dictionary of its field in every index it covers, once
        per rule, whatever the window. 302 rules over 200k events: 95 s that way, 17 s this way
        (docs/benchmarks.md). `search` and `count` still ask the node: for one query that is
        cheaper than reading its window out.
        """
        batch = passes.Requests(requests)
        out: list[list[Hit]] = [[] for _ in requests]
        with prepare.gc_paused():  # see SqliteStore.search_many
            for (lo, hi), active in passes.segments(batch.spans):
                window = Window(_from_millis(lo), _from_millis(hi))
                self._pass(agencies, window, requests, batch, active, out)
        for hits in out:
            hits.sort(key=lambda h: h.cursor)
        return out

    def _pass(
        self,
        agencies: Agencies,
        window: Window,
        requests: Sequence[passes.Request],
        batch: passes.Requests,
        active: list[int],
        out: list[list[Hit]],
    ) -> None:
        """`search_many` over the events of `window`, where the `active` requests read: in slices
        over the worker processes when the window is big enough to pay for them."""
        wanted = [batch.sets[i] for i in active]
        union = None if any(d is None for d in wanted) else sorted(frozenset().union(*wanted))  # type: ignore[arg-type]
        body: dict[str, Any] = {"query": dsl.scoped(MatchAll(), agencies, window, union)}
        pending: list[Future[bytes]] = []
        began = time.perf_counter()
        slices = 1
        if (
            self._pool is not None
            and self._call(self.engine.count, self.events, body["query"]) >= PARALLEL_MIN
        ):
            try:
                pending = self._pool.submit(self.events, body, requests, active, self._pool.workers)
                slices = self._pool.workers
            except Exception as exc:  # no workers to be had: the whole pass here
                log.warning("detection workers unavailable, one process reads the pass: %s", exc)
                self._pool.close()
        parts = [self._match_slice(body, 0, slices, batch, active)]
        log.debug("pass: slice 0 of %d matched in %.1f s", slices, time.perf_counter() - began)
        for n, future in enumerate(pending, start=1):
            try:
                parts.append(parallel.unpack(future.result(), len(active), _hit))
            except Exception as exc:  # a lost worker: read its slice here
                log.warning("detection worker failed, reading its slice here: %s", exc)
                parts.append(self._match_slice(body, n, slices, batch, active))
        for part in parts:
            for i, hits in zip(active, part, strict=True):
                out[i].extend(hits)
        log.debug("pass: %d slices done in %.1f s", slices, time.perf_counter() - began)

    def _match_slice(
        self, body: dict[str, Any], n: int, slices: int, batch: passes.Requests, active: list[int]
    ) -> list[list[Hit]]:
        if slices > 1:
            body = parallel.sliced(body, n, slices)
        pages = parallel.prefetched(self._call(self.engine.scroll, self.events, body))
        return parallel.match_pages(pages, batch, active, _hit)

    def count(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> int:
        return int(self._call(self.engine.count, self.events, dsl.scoped(query, agencies, window, datasets)))

    def group_counts(
        self,
        query: Query,
        fields: Sequence[str],
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> dict[tuple[Any, ...], int]:
        sources = [{f"f{i}": {"terms": {"field": f}}} for i, f in enumerate(fields)]
        composite: dict[str, Any] = {"size": 1000, "sources": sources}
        body: dict[str, Any] = {
            "query": dsl.scoped(query, agencies, window, datasets),
            "size": 0,
            "aggs": {"groups": {"composite": composite}},
        }
        out: dict[tuple[Any, ...], int] = {}
        while True:
            response = self._call(self.engine.search, self.events, body)
            if "aggregations" not in response:
                return out  # no index matches yet (nothing of this kind was ever stored): no groups
            agg = response["aggregations"]["groups"]
            for bucket in agg["buckets"]:
                out[tuple(bucket["key"][f"f{i}"] for i in range(len(fields)))] = bucket["doc_count"]
            if not agg["buckets"] or "after_key" not in agg:
                return out
            composite["after"] = agg["after_key"]

    def partitions(self) -> list[Partition]:
        stem = f"{self.prefix}-events-"
        out = []
        for name in self._call(self.engine.indices, stem + "*"):
            agency, dot, rest = name[len(stem) :].partition(".")
            slug, _, part = rest.rpartition("-")
            covers = periods.span(part)
            if dot and slug and covers is not None:  # else not one of ours (made by hand)
                out.append(Partition(slug, covers[0], name, agency, last=covers[1]))
        return out

    def delete_before(self, dataset: str, before: date) -> int:
        slug = ecs.dataset_slug(dataset)
        removed = 0
        for part in self.partitions():
            if part.slug == slug and part.until < before:
                self._call(self.engine.delete_index, part.name)
                removed += 1
        return removed

    def rejected(self, *, agencies: Agencies, limit: int = 100) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"match_all": {}}
        if agencies is not None:
            query = {"terms": {ecs.AGENCY: list(agencies)}}
        body = {"query": query, "sort": [{"@timestamp": "desc"}], "size": limit}
        hits = self._call(self.engine.search, f"{self.prefix}-rejected-*", body)["hits"]["hits"]
        return [
            {
                "at": ecs.parse_time(h["_source"]["@timestamp"]),
                "agency": h["_source"]["organization"]["id"],
                "reason": h["_source"]["error"]["message"],
                "original": h["_source"]["soc"]["rejected"],
            }
            for h in hits
        ]

    def refresh(self) -> None:
        self._call(self.engine.refresh, f"{self.prefix}-events-*,{self.prefix}-rejected-*")

    def health(self) -> dict[str, Any]:
        h = self._call(self.engine.health)
        return {
            "backend": self.backend,
            "status": h.get("status"),
            "cluster": h.get("cluster_name"),
            "nodes": h.get("number_of_nodes"),
        }

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self.engine.close()

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{self.backend}: {fn.__name__} failed: {_short(exc)}") from exc


def _hit(raw: Mapping[str, Any]) -> Hit:
    """A scrolled hit, with the cursor `search` would give it (sort values)."""
    doc = raw["_source"]
    event = doc["event"]
    return Hit(raw["_id"], raw["_index"], doc, (_millis(event["ingested"]), str(event["hash"])))


def _from_millis(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)


@lru_cache(maxsize=4096)
def _millis(ingested: str) -> int:
    """event.ingested as the sort value the engine gives it (a write stamps thousands alike)."""
    return ecs.to_millis(ecs.parse_time(ingested))


def _page_body(
    query: Query,
    agencies: Agencies,
    window: Window | None,
    datasets: Collection[str] | None,
    size: int,
    after: Cursor | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": dsl.scoped(query, agencies, window, datasets),
        "sort": SORT,
        "size": size + 1,  # one more than asked tells whether another page exists
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = list(after)
    return body


def _page(response: Mapping[str, Any], size: int) -> Page:
    raw = response["hits"]["hits"]
    hits = [
        Hit(h["_id"], h["_index"], h["_source"], (int(h["sort"][0]), str(h["sort"][1]))) for h in raw[:size]
    ]
    return Page(hits, hits[-1].cursor if len(raw) > size else None)


def _reason(error: Any) -> str:
    if not isinstance(error, Mapping):
        return "rejected by the engine"
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, Mapping):
        text += f" ({cause.get('type')}: {cause.get('reason')})"
    return text


def _short(exc: Exception) -> str:
    info = getattr(exc, "info", None)
    if isinstance(info, Mapping) and isinstance(info.get("error"), Mapping):
        return _reason(info["error"])
    return str(exc)[:500]
