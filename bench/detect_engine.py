"""One detection cycle on OpenSearch: the rules and events of bench/detect_sqlite.py.

    .venv/bin/python -m bench.detect_engine [--events 200000] [--opensearch-url URL]

Starts a node (1 GiB heap) unless a URL is given, writes the synthetic events in one ingest
window, refreshes, and times `evaluate_many()` (the window scrolled out once, in slices over
`detect_workers` processes, and matched on our side; correlations from the same pass). Prints
the findings digest, which must equal the SQLite digest for the same --events.
The ElastAlert2 comparison on the same node and events: bench/elastalert_compare.py.
"""

from __future__ import annotations

import argparse
import time

from bench.detect_sqlite import bench_rules, cycle_batch, digest, fill
from bench.store_ingest import drop, with_node
from soc import settings as settings_mod
from soc.store.clients import connect
from soc.store.search import SearchStore

PREFIX = "benchdetect"


def run(url: str, events: int) -> None:
    rules = bench_rules()
    settings = settings_mod.load(environ={}, store="opensearch", store_url=url)
    store = SearchStore(connect(settings), prefix=PREFIX, settings=settings, workers=settings.detect_workers)
    store.ensure_schema()
    print(f"{len(rules)} rules, {events} events; written in {fill(store, events):.1f} s (not timed)")
    store.refresh()
    began, cpu = time.perf_counter(), time.process_time()
    findings = cycle_batch(store, rules)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    n, _, sha = digest(findings)
    print(
        f"opensearch evaluate_many() one cycle {seconds:>7.2f} s (client cpu {cpu:.2f} s)"
        f"  findings {n:>6}  digest {sha}"
    )
    drop(store, PREFIX)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--opensearch-url", help="use this node instead of starting one")
    args = parser.parse_args()
    with_node(args.opensearch_url, lambda url: run(url, args.events))


if __name__ == "__main__":
    main()
