"""One detection cycle on the embedded SQLite store: ~300 rules over 200k events.

    .venv/bin/python -m bench.detect_sqlite [--events 200000] [--mode batch|each|both] [--db PATH]

Loads the bundled rules and the SigmaHQ set, keeps those that read our datasets (see
bench/detect_events.py), writes the synthetic events in one ingest window and times one cycle:
`each` calls `evaluate()` rule by rule (the scheduler's path before batching), `batch` calls
`evaluate_many()` once. Both print a digest of the findings (rule, group, event ids); `both`
checks the digests are equal. `--db` keeps the store between runs (written once). Goal (issue 4):
<= 8 s; the flat-table reference took 31.9 s for 252 rules on this machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path

from bench.detect_events import T0, applicable, case_events, make_events
from soc.detect.evaluate import evaluate, evaluate_many
from soc.detect.model import Finding, Rule
from soc.detect.rules import load_rules
from soc.store.base import EventStore, Window
from soc.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
SIGMAHQ = Path("/work/shared/data/sigmahq/rules")
INGESTED_AT = T0 + timedelta(hours=1)
WINDOW = Window(INGESTED_AT, INGESTED_AT + timedelta(minutes=5))


def bench_rules() -> list[Rule]:
    rules, problems = load_rules([ROOT / "rules", SIGMAHQ])
    assert not problems, problems[:3]
    return applicable(rules)


def fill(store: EventStore, n: int, batch: int = 5000) -> float:
    events = make_events(n, case_events(ROOT / "tests" / "rules"))
    began = time.perf_counter()
    for start in range(0, n, batch):
        result = store.write(events[start : start + batch], agency="bench", now=INGESTED_AT)
        assert not result.errors, result.errors[:3]
    return time.perf_counter() - began


Digest = tuple[int, int, str]


def digest(findings: Iterable[Finding]) -> Digest:
    """(findings, matched events, sha256 over the sorted (rule, group, event ids) lines)."""
    lines = sorted(f"{f.rule.id} {f.group!r} {[h.id for h in f.hits]} {f.count}" for f in findings)
    events = sum(len(line.split("'")) // 2 for line in lines)
    return len(lines), events, hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def cycle_each(store: EventStore, rules: Sequence[Rule]) -> list[Finding]:
    everything = {r.id: r for r in rules}
    return [f for rule in rules for f in evaluate(store, rule, WINDOW, rules=everything)]


def cycle_batch(store: EventStore, rules: Sequence[Rule]) -> list[Finding]:
    everything = {r.id: r for r in rules}
    return [f for _, found in evaluate_many(store, rules, WINDOW, rules=everything) for f in found]


def timed(
    name: str, job: object, store: EventStore, rules: Sequence[Rule]
) -> tuple[float, tuple[int, int, str]]:
    assert callable(job)
    load = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    findings = job(store, rules)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    d = digest(findings)
    load = max(load, os.getloadavg()[0])  # the machine is shared: say how busy it was
    print(f"{name:<28} {seconds:>7.2f} s (cpu {cpu:.2f} s, load {load:.1f})  findings {d[0]:>6}", end="")
    print(f"  digest {d[2]}")
    return seconds, d


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--mode", choices=["batch", "each", "both"], default="batch")
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "soc-bench-detect.db")
    args = parser.parse_args()
    rules = bench_rules()
    corr = sum(1 for r in rules if r.correlation is not None)
    print(f"{len(rules)} rules ({corr} correlations), {args.events} events")
    fresh = not args.db.exists()
    store = SqliteStore(args.db)
    store.ensure_schema()
    if fresh:
        print(f"written in {fill(store, args.events):.1f} s (not part of the cycle)")
    results = {}
    if args.mode in ("each", "both"):
        results["each"] = timed("evaluate() per rule", cycle_each, store, rules)
    if args.mode in ("batch", "both"):
        results["batch"] = timed("evaluate_many() one cycle", cycle_batch, store, rules)
    if len(results) == 2:
        same = results["each"][1] == results["batch"][1]
        print(f"same findings: {same}; speed-up {results['each'][0] / results['batch'][0]:.1f}x")
        assert same
    print(f"goal <= 8 s for ~300 rules; best {min(s for s, _ in results.values()):.2f} s")
    store.close()


if __name__ == "__main__":
    main()
