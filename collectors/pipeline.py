"""sources → parse → spool → sink, with checkpoints that move only once records are durable.

A record is parsed and written (fsynced) to the spool before its source's checkpoint advances; the
sink reads the spool and acks only what the engine confirmed. A crash anywhere re-sends at most
the unacked tail, and the deterministic `event.id` (host + source identity + offset) with
create-only writes turns those re-sends into duplicates the store ignores: exactly once.

With a `rate_limit`, delivery spends tokens from a bucket (collectors.ratelimit): network sources
keep spooling (their excess waits on disk), file and capture sources pause once `burst` events wait
in the spool. Both are backpressure; nothing is dropped.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from collectors.checkpoints import Checkpoints
from collectors.metrics import Metrics
from collectors.parsers import parse_one, record
from collectors.parsers.base import UNPARSED, Context
from collectors.ratelimit import TokenBucket
from collectors.settings import CollectorConfig
from collectors.sinks.base import Refused, Retry, Spooled, backoff
from collectors.sources.base import Emit, Record
from collectors.spool import Batch, Spool
from soc.ecs import COLLECTOR_AGENT

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def event_id(host: str, source: str, offset: int) -> str:
    """The same id for the same line, every time: 16 characters naming (host, source identity),
    then the offset as 12 or more hex digits.

    Hand-made rather than a hash of the three: ids of one source then sort in file order. The
    engine checks each create's `_id` against every segment whose id range could hold it; ids that
    grow with the offset fall outside older segments' ranges, so that check is cheap (a hash over
    the offset too cost the node about 15-20% more CPU per event, docs/benchmarks.md).
    """
    return f"{_id_prefix(host, source)}{offset:012x}"


@lru_cache(maxsize=1024)
def _id_prefix(host: str, source: str) -> str:
    digest = hashlib.sha256(f"{host}\x00{source}\x00".encode()).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode()


@dataclass
class Pipeline:
    config: CollectorConfig
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        data = Path(self.config.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.checkpoints = Checkpoints.load(data / "checkpoints.json")
        self.spool = Spool(data / "spool", max_bytes=self.config.spool_max_bytes)
        self.metrics = Metrics(self.spool)
        self.rejected_path = data / "rejected.ndjson"
        self._contexts: dict[tuple[str, str | None], Context] = {}
        self._agent = {"type": COLLECTOR_AGENT, "name": self.config.host, "version": VERSION}
        self._lock = threading.Lock()
        self.bucket = TokenBucket(self.config.rate_limit) if self.config.rate_limit else None
        self.backlog = 0
        """Events in the spool not yet confirmed by the sink."""
        self._drained = threading.Condition()
        self._throttled = self._paused_logged = False
        self._connection: Any = None
        """The sink's client built by run() before the sources start, for the first delivery."""
        self.metrics.watch_rate_limit(self)
        self._recover()

    def _recover(self) -> None:
        """Offsets of records already in the spool win over an older checkpoint file."""
        for frame in self.spool.unacked():
            self.backlog += 1
            fields = frame.split(b"\n", 1)[0].decode().split("\t")
            key, end = "\t".join(fields[1:-1]), fields[-1]  # a key may hold a tab: it is the middle
            if key:
                self.checkpoints.advance(key, int(end))

    # -- sources side ----------------------------------------------------------------------
    def emitter(self, name: str) -> Emit:
        pausable = bool(getattr(self.config.sources.get(name), "pausable", False))
        events_in = self.metrics.events_in.labels(name)
        bytes_in = self.metrics.bytes_in.labels(name)

        def emit(records: list[Record]) -> None:
            if pausable and not self._wait_for_room():
                return  # stopping while paused: nothing durable, nothing checkpointed
            now = datetime.now(UTC)  # one collection time per batch, not one clock read per record
            frames = [self._frame(name, r, now) for r in records]
            if not self._append(frames):
                return  # stopping while the spool is full: nothing durable, nothing checkpointed
            events_in.inc(len(records))
            bytes_in.inc(sum(len(r.data) for r in records))
            ends: dict[str, int] = {}  # checkpoints only move forward: the furthest end per key
            for r in records:
                if r.checkpoint and r.end > ends.get(r.checkpoint, -1):
                    ends[r.checkpoint] = r.end
            with self._lock:
                for key, end in ends.items():
                    self.checkpoints.advance(key, end)
                self.checkpoints.save()

        return emit

    def _append(self, frames: list[bytes]) -> bool:
        if not self.spool.append(frames, self.stop):
            return False
        with self._drained:
            self.backlog += len(frames)
        return True

    def _wait_for_room(self) -> bool:
        """Under an EPS cap, a source that can wait does so while `burst` events are undelivered."""
        if self.config.rate_limit is None:
            return True
        high = self.config.rate_limit.burst
        with self._drained:
            if self.backlog >= high and not self._paused_logged:
                log.info("file sources paused by the EPS cap; backlog=%s burst=%s", self.backlog, high)
                self._paused_logged = True
            while self.backlog >= high:
                if self.stop.is_set():
                    return False
                began = time.monotonic()
                self._drained.wait(0.2)
                self.metrics.paused_seconds.inc(time.monotonic() - began)
        return True

    def _frame(self, name: str, rec: Record, now: datetime | None = None) -> bytes:
        parse = self.config.parsers[name]
        key = (name, rec.path)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = Context(
                timezone=parse.timezone, year=parse.year, host=self.config.host, path=rec.path
            )
        ctx.now = now or datetime.now(UTC)
        ev = parse_one(record(rec.data, rec.offset, rec.flags), ctx, parse.format)
        if "error" in ev and ev["event"]["dataset"] == UNPARSED:
            self.metrics.events_unparsed.labels(name).inc()
        doc_id = event_id(self.config.host, rec.source, rec.offset)
        sender = getattr(rec, "sender", "")  # network sources: who sent it (Filebeat's log.source.address)
        if sender:
            ev.setdefault("log", {}).setdefault("source", {})["address"] = sender
        return self._encode(ev, doc_id, rec.checkpoint or "", rec.end)

    def _encode(self, ev: dict[str, Any], doc_id: str, checkpoint: str, end: int) -> bytes:
        """A spool frame: `id TAB checkpoint TAB end`, the sink's route (see _split), the event."""
        self._stamp(ev, doc_id)
        route = self.config.sink.prepare(ev, doc_id)  # last: it may reorder the event's keys
        return f"{doc_id}\t{checkpoint}\t{end}\n{route}\n".encode() + orjson.dumps(ev)

    def _stamp(self, ev: dict[str, Any], doc_id: str) -> None:
        ev.setdefault("event", {})["id"] = doc_id
        host = ev.setdefault("host", {})
        if isinstance(host, dict):
            host.setdefault("name", self.config.host)
        ev["agent"] = self._agent  # one dict for all: it is only ever serialised

    def heartbeat(self) -> None:
        now = datetime.now(UTC)
        doc_id = event_id(self.config.host, "heartbeat", int(now.timestamp() * 1000))
        ev: dict[str, Any] = {
            "@timestamp": now.isoformat().replace("+00:00", "Z"),
            "event": {"dataset": "soc.collector", "kind": "metric", "action": "collector_heartbeat"},
            "message": f"collector {self.config.host} alive",
            "soc_collector": self.metrics.snapshot(),
        }
        self._append([self._encode(ev, doc_id, "", 0)])
        self.metrics.heartbeats.inc()

    # -- sink side -------------------------------------------------------------------------
    def deliver(self) -> None:
        """Spool → sink with up to `in_flight` requests out at once, acked in spool order.

        While the engine works, the next batch is read from the spool and its request built, so the
        engine does not wait on the collector between batches; with more than one in flight it can
        index them side by side. A batch is acked once it and every batch before it came back.
        """
        sink = self._connection or self.config.sink.connect()
        self._connection = None  # used once: a delivery restarted after a failure builds its own
        name = self.config.sink_name
        limit = self.config.rate_limit
        batch_events = min(self.config.batch_events, limit.burst) if limit else self.config.batch_events
        inflight: deque[tuple[Batch, int, Future[bool]]] = deque()
        ready: tuple[Batch, list[Spooled], Any] | None = None
        ok = True
        try:
            with ThreadPoolExecutor(self.config.in_flight, thread_name_prefix="sink-post") as poster:
                while not self.stop.is_set():
                    # the next batch is read while the oldest is out; with one request in flight,
                    # also while that one is out (more would only hold more memory)
                    if ready is None and (
                        len(inflight) < self.config.in_flight or self.config.in_flight == 1
                    ):
                        batch = self.spool.read(batch_events, self.config.batch_bytes, 0 if inflight else 0.5)
                        if batch is not None:
                            docs = [_split(frame) for frame in batch.frames]
                            ready = (Batch([], batch.end), docs, sink.request(docs))  # frames freed
                    if ready is not None and len(inflight) < self.config.in_flight:
                        batch, docs, request = ready
                        ready = None
                        if not self._spend(len(docs)):
                            break
                        future = poster.submit(self._send_all, sink, name, docs, request)
                        inflight.append((batch, len(docs), future))
                        continue
                    if inflight:
                        sent, count, future = inflight.popleft()
                        if not future.result():
                            ok = False
                            break
                        self._acked(sent, count)
                while inflight:  # stopping: what was delivered before any failure is still acked
                    sent, count, future = inflight.popleft()
                    ok = future.result() and ok
                    if ok:
                        self._acked(sent, count)
                self.spool.rewind()
        finally:
            sink.close()

    def _acked(self, batch: Batch, count: int) -> None:
        self.spool.ack(batch)
        with self._drained:
            self.backlog = max(0, self.backlog - count)
            if self.backlog == 0:
                self._throttled = self._paused_logged = False
            self._drained.notify_all()
        self.metrics.spool_bytes.set(self.spool.pending_bytes)

    def _spend(self, count: int) -> bool:
        """Tokens for `count` events under the EPS cap; the first wait of a busy spell is logged."""
        if self.bucket is None:
            return True
        if self.bucket.delay(count) > 0 and not self._throttled:
            log.warning(
                "EPS cap reached, delivering at the cap; events_per_second=%s burst=%s backlog=%s",
                self.bucket.limit.events_per_second,
                self.bucket.limit.burst,
                self.backlog,
            )
            self._throttled = True
        return self.bucket.take(count, self.stop)

    def _send_all(self, sink: Any, name: str, docs: list[Spooled], request: Any) -> bool:
        """Deliver `docs` (`request`: their request, already built), retrying until every one is
        stored or refused for good; False only when told to stop first."""
        todo = list(range(len(docs)))
        attempt = 0
        while todo:
            if self.stop.is_set():
                return False
            try:
                if request is not None:
                    first, request = request, None
                    outcome = sink.post(first)
                else:  # a retry: a fresh request for what is left (and a fresh event.ingested)
                    outcome = sink.post(sink.request([docs[i] for i in todo]))
            except (Retry, Refused) as exc:
                self.metrics.retries.labels(name).inc()
                level = logging.ERROR if isinstance(exc, Refused) else logging.WARNING
                log.log(level, "delivery failed, will retry; sink=%s error=%s", name, exc)
                self.stop.wait(backoff(attempt))
                attempt += 1
                continue
            self.metrics.events_out.labels(name, "created").inc(outcome.created)
            self.metrics.events_out.labels(name, "duplicate").inc(outcome.duplicates)
            if outcome.rejected:
                self.metrics.events_out.labels(name, "rejected").inc(len(outcome.rejected))
                self._keep_rejected([(docs[todo[i]], reason) for i, reason in outcome.rejected])
            if outcome.retry:
                self.stop.wait(backoff(attempt))
                attempt += 1
            todo = [todo[i] for i in outcome.retry]
        return True

    def _keep_rejected(self, items: list[tuple[Spooled, str]]) -> None:
        with self.rejected_path.open("ab") as f:
            for doc, reason in items:
                kept = {"id": doc.id, "reason": reason, "document": bytes(doc.document).decode()}
                f.write(orjson.dumps(kept) + b"\n")

    # -- running ---------------------------------------------------------------------------
    def run(self) -> None:
        self._connection = self._connect_first()
        threads = [self._thread("sink", self._redeliver)]
        for name, source in self.config.sources.items():
            threads.append(
                self._thread(f"source-{name}", source.run, self.emitter(name), self.stop, self.checkpoints)
            )
        if self.config.metrics_address:
            self.metrics.serve(self.config.metrics_address)
        for t in threads:
            t.start()
        next_beat = time.monotonic()
        while not self.stop.is_set():
            if self.config.heartbeat_seconds and time.monotonic() >= next_beat:
                self.heartbeat()
                next_beat = time.monotonic() + self.config.heartbeat_seconds
            self.metrics.spool_bytes.set(self.spool.pending_bytes)
            self.stop.wait(0.5)
        for t in threads:
            t.join(10)
        self.checkpoints.save()
        self.spool.close()

    def _connect_first(self) -> Any:
        """The sink's client, built before any source starts reading.

        Building it loads the CA bundle into a TLS context, which is slow once a source is parsing
        in another thread and holds the GIL, and the first batch waited on it (docs/benchmarks.md,
        session 9). A failure is left to the sink thread, which connects again and reports it like
        any other failure (logged, retried after a pause).
        """
        try:
            return self.config.sink.connect()
        except Exception:
            return None

    def _thread(self, name: str, target: Callable[..., None], *args: Any) -> threading.Thread:
        return threading.Thread(target=self._supervise, args=(name, target, *args), name=name, daemon=True)

    def _supervise(self, name: str, target: Callable[..., None], *args: Any) -> None:
        """Run a component until stopped; one that fails on something unforeseen is logged and
        started again after a pause, so no single bad record or bug takes the collector down.
        Nothing is lost by a restart: a source resumes from its checkpoint (advanced only for what
        is durable) and delivery from the last acked spool position (re-sends are duplicates the
        engine ignores)."""
        while not self.stop.is_set():
            try:
                target(*args)
                return
            except Exception:
                self.metrics.restarts.labels(name).inc()
                log.exception("component failed, restarting in %ss; component=%s", RESTART_SECONDS, name)
                self.stop.wait(RESTART_SECONDS)

    def _redeliver(self) -> None:
        self.spool.rewind()  # after a failure, what was read but not acked is read again
        self.deliver()


RESTART_SECONDS = 5.0


def _split(frame: memoryview | bytes) -> Spooled:
    """A frame's id, route and document; the document stays a view into the spool's read."""
    if isinstance(frame, bytes):
        frame = memoryview(frame)
    head = bytes(frame[:HEAD_BYTES])  # id, checkpoint key and route: a small copy to search in
    if head.count(b"\n") < 2 and len(head) < len(frame):
        head = bytes(frame)  # a header longer than usual (a very long checkpoint key)
    doc_id = head[: head.index(b"\t")].decode()
    start = head.index(b"\n") + 1
    if head[start : start + 1] == b"{":  # spooled by a version that wrote no route line
        return Spooled(doc_id, frame[start:], "")
    body = head.index(b"\n", start) + 1
    return Spooled(doc_id, frame[body:], head[start : body - 1].decode())


HEAD_BYTES = 512
