"""The embedded event store: one SQLite file, zero set-up, same answers as the search engines.

Rows carry the columns every read narrows on (ingest time, agency, dataset, day); the query
itself is evaluated in Python by `soc.store.matcher` (compiled from the tree, equal to the
reference `query.matches`), which is what keeps the semantics identical to Elasticsearch's
keyword fields. Meant for one host, demos and tests, not for a city's volume.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

import orjson

from soc import ecs
from soc.errors import StoreError
from soc.store import passes, prepare
from soc.store.base import Agencies, Cursor, DocError, Hit, Page, Partition, Window, WriteResult, scan
from soc.store.matcher import compiled
from soc.store.passes import Requests
from soc.store.prefilter import Router
from soc.store.query import (
    Query,
    check,
    group_key,
    indexed_values,
)  # fmt: skip

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    ingested INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    agency TEXT NOT NULL,
    dataset TEXT,
    slug TEXT NOT NULL,
    day TEXT NOT NULL,
    doc BLOB NOT NULL  -- canonical JSON without event.hash/event.ingested (see _load)
);
CREATE INDEX IF NOT EXISTS events_by_ingested ON events (ingested, id);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    agency TEXT NOT NULL,
    reason TEXT NOT NULL,
    original TEXT NOT NULL
);
"""

INSERT = (
    "INSERT OR IGNORE INTO events (id, ingested, ts, agency, dataset, slug, day, doc) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteStore:
    backend = "sqlite"

    def __init__(self, path: Path | str, *, prefix: str = "soc") -> None:
        self.path = Path(path)
        self.prefix = prefix
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        # Bulk inserts into the id index touch random pages: a bigger cache, memory-mapped reads
        # and rarer checkpoints halve the cost per event (bench/store_ingest.py).
        self._db.execute("PRAGMA cache_size=-65536")
        self._db.execute("PRAGMA mmap_size=268435456")
        self._db.execute("PRAGMA wal_autocheckpoint=16384")
        self._lock = threading.RLock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the connection and turn SQLite's errors into the store's own."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise StoreError(f"sqlite event store {self.path}: {exc}") from exc

    def ensure_schema(self) -> None:
        with self._locked():
            self._db.executescript(SCHEMA)

    def write(
        self, docs: Sequence[Mapping[str, Any]], *, agency: str, now: datetime | None = None
    ) -> WriteResult:
        at = now or datetime.now(UTC)
        result = WriteResult()
        rows: list[tuple[Any, ...]] = []
        quarantine: list[tuple[Any, ...]] = []
        batch = prepare.Batch(agency=agency, ingested=at, prefix=self.prefix)
        with prepare.gc_paused():
            for position, raw in enumerate(docs):
                p = batch.prepare(raw)
                if isinstance(p, prepare.Rejected):
                    result.ids.append(None)
                    result.errors.append(DocError(position, p.reason))
                    quarantine.append((ecs.to_millis(at), agency, p.reason, _dump_original(p.original)))
                    continue
                result.ids.append(p.id)
                rows.append(
                    (p.id, p.ingested_ms, p.timestamp_ms, agency, p.dataset, p.slug, p.day, p.canonical)
                )
        with self._locked():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if now is None:
                    # Stamp event.ingested under the lock, right before the insert: a detection read
                    # that started earlier has a window end before this stamp, so it cannot close a
                    # window over rows that were not committed yet.
                    stamp = ecs.to_millis(datetime.now(UTC))
                    rows = [(r[0], stamp, *r[2:]) for r in rows]
                before = self._db.total_changes
                self._db.executemany(INSERT, rows)
                result.created = self._db.total_changes - before
                self._db.executemany(
                    "INSERT INTO rejected (at, agency, reason, original) VALUES (?, ?, ?, ?)", quarantine
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        result.duplicates = len(rows) - result.created
        return result

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
        check(query)
        hits: list[Hit] = []
        match = compiled(query)
        for row_id, ingested, slug, day, _, doc in self._rows(agencies, window, datasets, after):
            if match(doc, {}):
                if len(hits) == size:
                    return Page(hits, hits[-1].cursor)
                index = prepare.index_name(self.prefix, _agency(doc), slug, day)
                hits.append(Hit(row_id, index, doc, (ingested, row_id)))
        return Page(hits, None)

    def count(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> int:
        check(query)
        match = compiled(query)
        return sum(1 for *_, doc in self._rows(agencies, window, datasets, None) if match(doc, {}))

    def group_counts(
        self,
        query: Query,
        fields: Sequence[str],
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> dict[tuple[Any, ...], int]:
        check(query)
        match = compiled(query)
        counts: Counter[tuple[Any, ...]] = Counter()
        for *_, doc in self._rows(agencies, window, datasets, None):
            if not match(doc, {}):
                continue
            per_field = [sorted(set(map(group_key, indexed_values(doc, f))), key=str) for f in fields]
            counts.update(product(*per_field))
        return dict(counts)

    def read_all(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> list[Hit]:
        return list(scan(self, query, agencies=agencies, window=window, datasets=datasets))

    def search_many(
        self,
        requests: Sequence[tuple[Query, Collection[str] | None, Window]],
        *,
        agencies: Agencies,
    ) -> list[list[Hit]]:
        """Every hit of each (query, datasets, window), in `search` order, from ONE pass over the
        rows: each row is decoded once and tried only against the requests of its dataset whose
        window holds it. Requests may have different windows (a correlation's history reaches
        further back than the cycle's window); the pass is cut where the windows start and end,
        so a row outside every window of its dataset is never decoded.

        SQLite's batch path for a detection cycle; `SearchStore.search_many` is the engines' one.
        """
        batch = Requests(requests)
        out: list[list[Hit]] = [[] for _ in requests]
        # The pass keeps thousands of decoded documents alive (the hits); they are acyclic JSON, so
        # the cyclic collector finds nothing in them, yet it ran often enough to cost ~20% of the
        # pass (bench/detect_sqlite.py). Reference counting frees everything as usual.
        with prepare.gc_paused():
            for span, active in passes.segments(batch.spans):
                self._pass(agencies, span, batch, active, out)
        return out

    def _pass(
        self,
        agencies: Agencies,
        span: tuple[int, int],
        batch: Requests,
        active: list[int],
        out: list[list[Hit]],
    ) -> None:
        """`search_many` over the rows ingested in `span`, where the `active` requests read."""
        wanted = [batch.sets[i] for i in active]
        union = None if any(d is None for d in wanted) else frozenset().union(*wanted)  # type: ignore[arg-type]
        routes: dict[str | None, Router] = {}
        names: dict[tuple[str, str, str], str] = {}
        fns, full = batch.fns, batch.full
        for row_id, ingested, slug, day, dataset, blob in self._raw_rows(agencies, span, union, None):
            router = routes.get(dataset)
            if router is None:
                router = routes[dataset] = batch.router(active, dataset)
            if router.empty:
                continue
            doc = _load(row_id, ingested, blob) if full else orjson.loads(blob)
            memo: dict[Any, Any] = {}
            hit: Hit | None = None
            for i in router.candidates(doc, memo):
                if fns[i](doc, memo):
                    if hit is None:
                        if not full:
                            _stamp(doc, row_id, ingested)
                        place = (_agency(doc), slug, day)
                        index = names.get(place)
                        if index is None:
                            index = names[place] = prepare.index_name(self.prefix, *place)
                        hit = Hit(row_id, index, doc, (ingested, row_id))
                    out[i].append(hit)

    def partitions(self) -> list[Partition]:
        with self._locked():
            rows = self._db.execute("SELECT DISTINCT agency, slug, day FROM events").fetchall()
        out = [
            Partition(
                slug,
                datetime.strptime(day, "%Y.%m.%d").date(),
                prepare.index_name(self.prefix, agency, slug, day),
                agency,
            )
            for agency, slug, day in rows
        ]
        return sorted(out, key=lambda p: p.name)

    def delete_before(self, dataset: str, before: date) -> int:
        with self._locked():
            cur = self._db.execute(
                "DELETE FROM events WHERE slug = ? AND day < ?",
                (ecs.dataset_slug(dataset), before.strftime("%Y.%m.%d")),
            )
            return cur.rowcount

    def rejected(self, *, agencies: Agencies, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT at, agency, reason, original FROM rejected"
        params: list[Any] = []
        if agencies is not None:
            sql += f" WHERE agency IN ({','.join('?' * len(agencies))})"
            params.extend(agencies)
        sql += " ORDER BY seq DESC LIMIT ?"
        with self._locked():
            rows = self._db.execute(sql, [*params, limit]).fetchall()
        return [
            {"at": datetime.fromtimestamp(at / 1000, UTC), "agency": a, "reason": r, "original": o}
            for at, a, r, o in rows
        ]

    def refresh(self) -> None:
        """Nothing to do: a committed row is visible at once."""

    def health(self) -> dict[str, Any]:
        with self._locked():
            (events,) = self._db.execute("SELECT count(*) FROM events").fetchone()
        size = self.path.stat().st_size if self.path.exists() else 0
        return {"backend": self.backend, "status": "green", "events": events, "bytes": size}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(
        self,
        agencies: Agencies,
        window: Window | None,
        datasets: Collection[str] | None,
        after: Cursor | None,
    ) -> Iterator[tuple[str, int, str, str, str | None, dict[str, Any]]]:
        span = None if window is None else (ecs.to_millis(window.start), ecs.to_millis(window.end))
        for row_id, ingested, slug, day, dataset, blob in self._raw_rows(agencies, span, datasets, after):
            yield row_id, ingested, slug, day, dataset, _load(row_id, ingested, blob)

    def _raw_rows(
        self,
        agencies: Agencies,
        span: tuple[int, int] | None,
        datasets: Collection[str] | None,
        after: Cursor | None,
    ) -> Iterator[tuple[str, int, str, str, str | None, bytes]]:
        """Rows in (ingested, id) order with the stored document still encoded."""
        if (agencies is not None and not agencies) or (datasets is not None and not datasets):
            return
        where: list[str] = []
        params: list[Any] = []
        if span is not None:
            where.append("ingested >= ? AND ingested < ?")
            params += list(span)
        if after is not None:
            where.append("(ingested > ? OR (ingested = ? AND id > ?))")
            params += [after[0], after[0], after[1]]
        if agencies is not None:
            where.append(f"agency IN ({','.join('?' * len(agencies))})")
            params += list(agencies)
        if datasets is not None:
            where.append(f"dataset IN ({','.join('?' * len(datasets))})")
            params += list(datasets)
        sql = "SELECT id, ingested, slug, day, dataset, doc FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ingested, id"
        # A separate cursor per read, fetched in chunks, so a long scan does not hold the lock
        # against writers for its whole duration.
        with self._locked():
            cur = self._db.execute(sql, params)
        while True:
            with self._locked():
                chunk = cur.fetchmany(2000)
            if not chunk:
                return
            yield from chunk


def _agency(doc: Mapping[str, Any]) -> str:
    org = doc.get("organization")
    return str(org.get("id", "")) if isinstance(org, dict) else ""


def _load(row_id: str, ingested_ms: int, blob: bytes) -> dict[str, Any]:
    """The stored document with the store's own fields put back (they are not in the hashed body)."""
    doc: dict[str, Any] = orjson.loads(blob)
    _stamp(doc, row_id, ingested_ms)
    return doc


def _stamp(doc: dict[str, Any], row_id: str, ingested_ms: int) -> None:
    event = doc["event"]
    event["hash"] = row_id
    event["ingested"] = _ingested_text(ingested_ms)


@lru_cache(maxsize=4096)
def _ingested_text(ingested_ms: int) -> str:
    """Rows of one write share their stamp: format it once."""
    return ecs.format_time(datetime.fromtimestamp(ingested_ms / 1000, UTC))


def _dump_original(original: Any) -> str:
    try:
        return orjson.dumps(original).decode()
    except TypeError:
        return repr(original)
