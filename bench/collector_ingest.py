"""File → OpenSearch: the collector's events/s against the raw `_bulk` ceiling, same node, same docs.

    .venv/bin/python bench/collector_ingest.py [--lines 200000] [--url http://127.0.0.1:9200]

Without --url it starts a local node (soc.engine.launcher) in a temporary home and stops it after.
The ceiling posts already-parsed documents in 2,000-document `_bulk` create requests from one
thread; the collector reads the file, parses (syslog/sshd), spools with fsync, and delivers.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

from collectors import settings
from collectors.parsers import parse_lines
from collectors.pipeline import Pipeline


def make_log(path: Path, lines: int) -> None:
    with path.open("wb") as f:
        for i in range(lines):
            f.write(
                b"Nov 27 09:%02d:%02d web1 sshd[%d]: Failed password for root from 10.0.%d.%d port %d ssh2\n"
                % (i // 60 % 60, i % 60, 1000 + i % 5000, i // 250 % 250, i % 250, 1024 + i % 60000)
            )


def ceiling(url: str, path: Path, prefix: str) -> float:
    docs = list(parse_lines(path.open("rb"), fmt="syslog", timezone="UTC", year=2026))
    bodies = []
    for start in range(0, len(docs), 2000):
        body = b"".join(
            orjson.dumps(
                {"create": {"_index": f"{prefix}-events-system_auth-2026.11.27", "_id": str(start + i)}}
            )
            + b"\n"
            + orjson.dumps(doc)
            + b"\n"
            for i, doc in enumerate(docs[start : start + 2000])
        )
        bodies.append(gzip.compress(body, 1))
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    with httpx.Client(timeout=120) as client:
        began = time.perf_counter()
        for body in bodies:
            assert client.post(f"{url}/_bulk", content=body, headers=headers).status_code == 200
        return len(docs) / (time.perf_counter() - began)


def collector(url: str, path: Path, prefix: str, lines: int, data: Path) -> tuple[float, float]:
    config = data / "collector.yml"
    config.write_text(f"""
data_dir: {data / "state"}
host: bench
heartbeat_seconds: 0
sources:
  auth: {{type: file, paths: ["{path}"], poll_seconds: 0.05}}
transforms:
  p: {{type: parse, inputs: [auth], format: syslog, timezone: UTC, year: 2026}}
sinks:
  engine: {{type: opensearch, url: "{url}", index_prefix: {prefix}, agency: bench}}
""")
    pipeline = Pipeline(settings.load(config))
    thread = threading.Thread(target=pipeline.run, daemon=True)
    began = time.perf_counter()
    thread.start()
    created = pipeline.metrics.events_out.labels("engine", "created")
    while created._value.get() < lines:
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    pipeline.stop.set()
    thread.join(30)
    return lines / elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        node = None
        url = args.url
        if url is None:
            from soc.engine.launcher import Node

            node = Node.start(work / "engine", heap_mb=1024)
            url = node.url
        try:
            log = work / "auth.log"
            make_log(log, args.lines)
            eps, rss = collector(url, log, "benchc", args.lines, work)
            top = ceiling(url, log, "benchr")
            # peak RSS is read before the ceiling run, which holds every document in memory
            print(
                f"lines={args.lines} collector={eps:,.0f} ev/s ceiling={top:,.0f} ev/s "
                f"ratio={eps / top:.2f} collector_peak_rss={rss:.0f} MB"
            )
        finally:
            if node is not None:
                node.stop()


if __name__ == "__main__":
    main()
