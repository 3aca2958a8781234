"""One detection cycle, ours vs ElastAlert2, on the same OpenSearch node and events (issue 4).

    .venv/bin/python -m bench.elastalert_compare [--events 1000000] [--opensearch-url URL]
                                                 [--rounds 2] [--keep] [--ea-venv /tmp/ea2]

The rules and events of bench/detect_engine.py: ~300 rules (ours + SigmaHQ), synthetic events in
the "benchdetect" indices, all with event.ingested = INGESTED_AT. Without --opensearch-url a node
is started (1 GiB heap) and stopped after; with it, an index that already holds exactly --events
events is reused (filling 1M takes minutes), and --keep leaves it there at the end.

ElastAlert2: a venv at --ea-venv with `elastalert2==2.19.0` is created when missing, plus
`pytz==2026.6`, which ElastAlert2 imports but does not declare. Every rule is converted with
pySigma's ElastalertBackend (what `sigma convert -t elastalert` runs) through our field names
(soc.detect.pipeline), with the rule's event.dataset values and its logsource scope (sshd inside
system.auth...) as added conditions; the rules that do not convert are counted by reason.
bench/elastalert_driver.py, run with the venv's python, builds an `ElastAlerter` and calls
`run_rule()` for each rule in turn over one @timestamp range covering every event (T0 - 1 s to
the last event + 1 s: ElastAlert2 filters on its timestamp_field, our cycle on event.ingested),
in debug mode so neither side writes anything back.

Ours: `bench.detect_sqlite.cycle_batch` over all the rules (correlations included) and over the
compared rules only. Compared: the single-event rules that alert on their own and converted
(correlations, and the rules that only feed them, are left out: ElastAlert2 cannot run Sigma
correlations). Rounds alternate which side goes first. Misses: per rule, the events our cycle
found that ElastAlert2 did not, summed; each missed event gets a guessed cause: `truncation`
(ElastAlert2's own query matches it but it was never fetched), `case` (our query no longer
matches it once made case-sensitive, as keyword queries from query_string are), else `regex` when
the rule has a |re (Lucene regexp semantics differ from Sigma's), else `conversion`; a rule whose
query ElastAlert2 failed to run counts all its misses as `elastalert2 error`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from sigma.backends.elasticsearch.elasticsearch_elastalert import ElastalertBackend
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation, FieldFunctionTransformation
from sigma.rule import SigmaRule

from bench.detect_events import T0
from bench.detect_sqlite import WINDOW, bench_rules, cycle_batch, fill
from bench.store_ingest import drop, with_node
from soc import ecs
from soc import settings as settings_mod
from soc.detect import pipeline
from soc.detect.evaluate import only_feeds_correlations
from soc.detect.model import Rule
from soc.store import dsl
from soc.store.clients import connect
from soc.store.query import And, Not, Or, Query, Regex, Term, Wildcard
from soc.store.search import SearchStore

PREFIX = "benchdetect"
INDEX = f"{PREFIX}-events-*"
EA_PINS = ("elastalert2==2.19.0", "pytz==2026.6")
DRIVER = Path(__file__).with_name("elastalert_driver.py")
STEP = timedelta(milliseconds=37)  # bench.detect_events spaces the events' @timestamp by this
GOAL = 3.0


def ea_python(venv: Path) -> Path:
    """The ElastAlert2 venv's python, creating the venv or adding what is missing first."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"(creating the ElastAlert2 venv at {venv})")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = "import importlib.metadata as m, pytz; print(m.version('elastalert2'))"
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    if found.returncode != 0 or found.stdout.strip() != EA_PINS[0].split("==")[1]:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *EA_PINS], check=True)
    return python


# --- conversion -------------------------------------------------------------------------------


Conditions = dict[str, int | str | list[str]]


def _scope_conditions(scope: Query | None) -> Conditions:
    """Our logsource scope (terms, an OR over one field, an AND of those) as pySigma conditions."""
    match scope:
        case None:
            return {}
        case Term(name, value):
            return {name: str(value)}
        case Or(items) if all(isinstance(t, Term) and t.field == items[0].field for t in items):  # type: ignore[union-attr]
            return {items[0].field: [str(t.value) for t in items]}  # type: ignore[union-attr]
        case And(items):
            return {k: v for item in items for k, v in _scope_conditions(item).items()}
    raise ValueError(f"scope {scope!r} has no pySigma condition")


def _ea_pipeline(rule: Rule, source: pipeline.Source) -> ProcessingPipeline:
    conditions: Conditions = {"event.dataset": list(rule.datasets or source.datasets)}
    conditions.update(_scope_conditions(source.scope))

    def ecs_name(name: str | None) -> str:
        assert name is not None  # keywords (no field) are left to the backend, as sigma-cli does
        return pipeline.ecs_field(source, name) or name

    return ProcessingPipeline(
        items=[
            ProcessingItem(FieldFunctionTransformation({}, ecs_name)),
            ProcessingItem(AddConditionTransformation(conditions)),
        ]
    )


def _correlation_reason(rule: Rule, by_id: dict[str, Rule]) -> str:
    """Why a correlation is not compared: the backend refuses it, or what it would become."""
    assert rule.correlation is not None
    text = "\n---\n".join([by_id[i].source for i in rule.correlation.rules if i in by_id] + [rule.source])
    kind = rule.correlation.type
    try:
        converted = ElastalertBackend(processing_pipeline=ProcessingPipeline()).convert(
            SigmaCollection.from_yaml(text)
        )
    except Exception as exc:
        return f"correlation {kind}: {type(exc).__name__}: {str(exc)[:70]}"
    doc = yaml.safe_load(str(converted[-1]))
    return f"correlation {kind}: converts to an ElastAlert2 `{doc.get('type')}` rule, not compared"


def convert(rules: Sequence[Rule]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """ElastAlert2 rule documents by rule id, and the reason for each rule that did not convert."""
    out: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    by_id = {r.id: r for r in rules}
    for rule in rules:
        if rule.correlation is not None:
            failed[rule.id] = _correlation_reason(rule, by_id)
            continue
        try:
            collection = SigmaCollection.from_yaml(rule.source)
            sigma = collection.rules[0]
            assert isinstance(sigma, SigmaRule)
            ls = sigma.logsource
            source = pipeline.source_for(ls.product, ls.category, ls.service)
            if source is None:
                raise ValueError("logsource not in our pipeline")
            converted = ElastalertBackend(processing_pipeline=_ea_pipeline(rule, source)).convert(collection)
            doc = yaml.safe_load(converted[-1] if isinstance(converted, list) else str(converted))
        except Exception as exc:
            quoted = re.sub(r"'[^']*'", "'…'", str(exc))  # one reason for every rule name it cites
            failed[rule.id] = f"{type(exc).__name__}: {quoted[:90]}"
            continue
        doc.update(name=rule.id, index=INDEX, timestamp_field="@timestamp", alert=["debug"])
        out[rule.id] = doc
    return out, failed


# --- the two cycles ---------------------------------------------------------------------------


@dataclass
class Side:
    """One side's per-rule matched event ids and the seconds of each round."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    compared_seconds: list[float] = field(default_factory=list)
    """Ours only: the cycle over the compared rules alone (no correlations)."""
    loads: list[tuple[float, float]] = field(default_factory=list)


def ours(store: SearchStore, rules: Sequence[Rule], compared: Sequence[Rule], side: Side) -> None:
    """Time our cycle over all the rules, then over the compared rules alone."""
    before = os.getloadavg()[0]
    began = time.perf_counter()
    findings = cycle_batch(store, rules)
    side.seconds.append(time.perf_counter() - began)
    side.loads.append((before, os.getloadavg()[0]))
    wanted = {r.id for r in compared}
    side.ids = {r.id: set() for r in compared}
    for f in findings:
        if f.rule.id in wanted:
            side.ids[f.rule.id].update(h.id for h in f.hits)
    began = time.perf_counter()
    cycle_batch(store, compared)
    side.compared_seconds.append(time.perf_counter() - began)


def elastalert(
    python: Path, url: str, docs: dict[str, dict[str, Any]], events: int, side: Side
) -> dict[str, Any]:
    """One ElastAlert2 cycle through the driver; fills `side` and returns the driver's result."""
    parts = urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="ea2-cmp-") as home:
        folder = Path(home) / "rules"
        folder.mkdir()
        for rule_id, doc in docs.items():
            (folder / f"{rule_id}.yaml").write_text(yaml.safe_dump(doc))
        spec = {
            "es_host": parts.hostname,
            "es_port": parts.port,
            "rules_folder": str(folder),
            "writeback_index": f"{PREFIX}-ea2-status",
            "start": (T0 - timedelta(seconds=1)).isoformat(),
            "end": (T0 + STEP * events + timedelta(seconds=1)).isoformat(),
        }
        (Path(home) / "spec.json").write_text(json.dumps(spec))
        before = os.getloadavg()[0]
        subprocess.run([str(python), str(DRIVER), f"{home}/spec.json", f"{home}/result.json"], check=True)
        side.loads.append((before, os.getloadavg()[0]))
        result: dict[str, Any] = json.loads((Path(home) / "result.json").read_text())
    side.seconds.append(result["cycle_seconds"])
    side.ids = {r["name"]: set(r["ids"]) for r in result["rules"]}
    return result


# --- misses -----------------------------------------------------------------------------------


def cased(query: Query) -> Query:
    """The query with every term and wildcard case-sensitive."""
    match query:
        case Term() | Wildcard():
            return replace(query, cased=True)
        case And(items):
            return And(tuple(cased(q) for q in items))
        case Or(items):
            return Or(tuple(cased(q) for q in items))
        case Not(item):
            return Not(cased(item))
    return query


def _chunks(ids: Sequence[str], size: int = 10_000) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _has_regex(query: Query) -> bool:
    match query:
        case Regex():
            return True
        case And(items) | Or(items):
            return any(_has_regex(q) for q in items)
        case Not(item):
            return _has_regex(item)
    return False


def causes(
    store: SearchStore, rule: Rule, doc: dict[str, Any], missed: set[str], failed: bool
) -> Counter[str]:
    """How many of the missed events each guessed cause explains (see the module docstring)."""
    assert rule.query is not None
    if failed:
        return Counter({"elastalert2 error": len(missed)})
    # Sigma's |re is an unanchored Python search ((?i), \s, \S, ^, $); the backend passes it to
    # Lucene's regexp unchanged, which matches the whole value and knows none of those.
    other = "regex" if _has_regex(rule.query) else "conversion"
    ea_query = {"bool": {"filter": [f.get("query", f) for f in doc["filter"]]}}
    ours_cased = dsl.compile_query(cased(rule.query))
    found: Counter[str] = Counter()
    for ids in _chunks(sorted(missed)):
        by_id = {"ids": {"values": ids}}
        truncated = store.engine.count(INDEX, {"bool": {"filter": [by_id, ea_query]}})
        still = store.engine.count(INDEX, {"bool": {"filter": [by_id, ours_cased], "must_not": [ea_query]}})
        found["truncation"] += truncated
        found[other] += still
        found["case"] += len(ids) - truncated - still
    return +found


# --- report -----------------------------------------------------------------------------------


def report(
    store: SearchStore,
    events: int,
    compared: Sequence[Rule],
    docs: dict[str, dict[str, Any]],
    mine: Side,
    theirs: Side,
    ea_result: dict[str, Any],
) -> None:
    best_ea, best_ours = min(theirs.seconds), min(mine.seconds)
    print(f"\nevents {events:,}; rules compared {len(compared)}")
    for name, side in (("elastalert2", theirs), ("ours", mine)):
        runs = ", ".join(
            f"{s:.2f} s (load {a:.2f}->{b:.2f})" for s, (a, b) in zip(side.seconds, side.loads, strict=True)
        )
        print(f"  {name:<12} cycle: {runs}")
    alone = min(mine.compared_seconds)
    print(
        f"  best: elastalert2 {best_ea:.2f} s; ours {best_ours:.2f} s with correlations, {alone:.2f} s "
        f"without; ratio {best_ea / best_ours:.1f}x with, {best_ea / alone:.1f}x without "
        f"(goal >= {GOAL:.0f}x)"
    )
    errors = {r["name"]: r["errors"] for r in ea_result["rules"] if r["errors"]}
    print(f"  elastalert2 rules with errors: {len(errors)}")
    for name, errs in list(errors.items())[:5]:
        print(f"    {name}: {errs[0][:160]}")
    slow = sorted(ea_result["rules"], key=lambda r: -r["seconds"])[:5]
    print("  elastalert2 slowest rules: " + ", ".join(f"{r['name'][:8]} {r['seconds']:.1f} s" for r in slow))
    by_id = {r.id: r for r in compared}
    totals: dict[str, int] = {r["name"]: r["total_hits"] for r in ea_result["rules"]}
    rows = []
    all_causes: Counter[str] = Counter()
    fewer = more = extra = 0
    for rule_id, found in mine.ids.items():
        got = theirs.ids.get(rule_id, set())
        missed, added = found - got, got - found
        fewer += len(got) < len(found)
        more += len(got) > len(found)
        extra += len(added)
        if missed:
            why = causes(store, by_id[rule_id], docs[rule_id], missed, rule_id in errors)
            all_causes.update(why)
            rows.append((len(missed), rule_id, len(found), len(got), why))
    total_ours = sum(len(s) for s in mine.ids.values())
    total_ea = sum(len(theirs.ids.get(i, set())) for i in mine.ids)
    print(f"  matched events: ours {total_ours:,}, elastalert2 {total_ea:,}")
    print(
        f"  elastalert2 misses: {sum(r[0] for r in rows):,} events we found that it did not, in "
        f"{len(rows)} rules; by guessed cause {dict(all_causes)}"
    )
    print(
        f"  rules where elastalert2 has fewer matches: {fewer}, more: {more} "
        f"({extra:,} events we did not match)"
    )
    print(f"  top 10 by shortfall (max_query_size {ea_result['max_query_size']}):")
    print(f"    {'missed':>7} {'ours':>7} {'ea2':>7} {'total':>6}  rule / guessed cause")
    for n, rule_id, have, theirs_n, why in sorted(rows, key=lambda r: (-r[0], r[1]))[:10]:
        cause = ", ".join(f"{k} {v}" for k, v in why.most_common())
        title = by_id[rule_id].title[:60]
        print(
            f"    {n:>7} {have:>7} {theirs_n:>7} {totals.get(rule_id, 0):>6}  {rule_id[:8]} {title} — {cause}"
        )


# --- main -------------------------------------------------------------------------------------


def prepare(store: SearchStore, events: int) -> None:
    try:
        held = store.engine.count(INDEX, {"match_all": {}})
    except Exception:
        held = 0
    if held == events:
        print(f"{INDEX} already holds {events:,} events: not filled again")
        return
    for name in store.engine.indices(INDEX):
        store.engine.delete_index(name)
    store.ensure_schema()
    print(f"{events:,} events written in {fill(store, events):.1f} s (not timed)")
    store.refresh()


def run(url: str, args: argparse.Namespace, python: Path) -> None:
    rules = bench_rules()
    everything = {r.id: r for r in rules}
    docs, failed = convert(rules)
    print(f"{len(rules)} rules; converted for ElastAlert2 {len(docs)}; not converted {len(failed)}:")
    for reason, n in Counter(failed.values()).most_common():
        print(f"  {n:>4}  {reason}")
    feeders = [r.id for r in rules if only_feeds_correlations(r, everything)]
    compared = [r for r in rules if r.id in docs and r.id not in feeders]
    print(f"compared: {len(compared)} (left out: {len(feeders)} rules that only feed correlations)")
    settings = settings_mod.load(environ={}, store="opensearch", store_url=url)
    store = SearchStore(connect(settings), prefix=PREFIX, settings=settings, workers=settings.detect_workers)
    prepare(store, args.events)
    end = T0 + STEP * args.events
    assert end < datetime.now(T0.tzinfo), "the events' @timestamp range must lie in the past for ElastAlert2"
    in_range = store.engine.count(
        INDEX, {"range": {"@timestamp": {"gte": T0.isoformat(), "lte": end.isoformat()}}}
    )
    span = {"gte": ecs.to_millis(WINDOW.start), "lt": ecs.to_millis(WINDOW.end), "format": "epoch_millis"}
    in_window = store.engine.count(INDEX, {"range": {ecs.INGESTED: span}})
    print(f"events in ElastAlert2's @timestamp range {in_range:,}; in our ingest window {in_window:,}")
    mine, theirs = Side(), Side()
    ea_result: dict[str, Any] = {}
    for round_ in range(args.rounds):
        order = ["ours", "ea2"] if round_ % 2 == 0 else ["ea2", "ours"]
        for who in order:
            if who == "ours":
                ours(store, rules, compared, mine)
                print(
                    f"round {round_ + 1} ours: {mine.seconds[-1]:.2f} s all {len(rules)} rules, "
                    f"{mine.compared_seconds[-1]:.2f} s the compared rules only"
                )
            else:
                ea_result = elastalert(python, url, {r.id: docs[r.id] for r in compared}, args.events, theirs)
                print(
                    f"round {round_ + 1} elastalert2: {theirs.seconds[-1]:.2f} s "
                    f"(rules loaded in {ea_result['load_seconds']:.1f} s, not timed)"
                )
    report(store, args.events, compared, docs, mine, theirs, ea_result)
    if args.keep:
        store.close()
    else:
        drop(store, PREFIX)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--opensearch-url", help="use this node instead of starting one")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the benchdetect indices on the node")
    parser.add_argument("--ea-venv", type=Path, default=Path(tempfile.gettempdir()) / "ea2")
    args = parser.parse_args()
    python = ea_python(args.ea_venv)
    with_node(args.opensearch_url, lambda url: run(url, args, python))


if __name__ == "__main__":
    main()
