"""File → OpenSearch: the collector's events/s against the raw `_bulk` ceiling, same node, same docs.

    .venv/bin/python -m bench.collector_ingest [--lines 200000] [--url http://127.0.0.1:9200]

Without --url it starts a local node (soc.engine.launcher) in a temporary home and stops it after.
The ceiling is bench.rsyslog_compare's (the collector's own `_bulk` requests, built before the
clock starts, posted from one thread); the collector runs in this process: it reads the file,
parses (syslog/sshd), spools with fsync, and delivers. For the comparison with rsyslog and the
figures in docs/benchmarks.md, use bench.rsyslog_compare.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from pathlib import Path

from bench.rsyslog_compare import ceiling, make_log, prepare
from collectors import settings
from collectors.pipeline import Pipeline


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
            prepare(url, "benchc")
            eps, rss = collector(url, log, "benchc", args.lines, work)
            prepare(url, "benchr")
            top, _ = ceiling(url, log, "benchr")
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
