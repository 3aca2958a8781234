"""The batch cycle on SQLite finds exactly what `evaluate` and the reference matcher find.

The corpus is every match, near-miss and scenario event of the bundled cases files plus a few
case-folding traps, run against the bundled rules and the SigmaHQ set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from soc.detect import correlate
from soc.detect.evaluate import evaluate, evaluate_many
from soc.detect.model import Finding, Rule
from soc.detect.rules import load_rules
from soc.store.base import Window
from soc.store.matcher import compiled
from soc.store.query import MatchAll, Or, Query, Term, Wildcard, matches
from soc.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[3]
SIGMAHQ = Path("/work/shared/data/sigmahq/rules")
AT = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
WINDOW = Window(AT, AT + timedelta(seconds=1))
TRAPS: list[dict[str, Any]] = [
    {"event.dataset": "system.auth", "user.name": "\u212aali", "message": "ROOT \u017fession"},
    {"event.dataset": "auditd.log", "process.name": "WGET", "process.command_line": "Curl -O x\ny"},
    {"event.dataset": "auditd.log", "process.executable": "/USR/BIN/WGET", "auditd.log.a0": "un\u017fhadow"},
    {"event.dataset": "auditd.log", "process.executable": ["/bin/true", "/tmp/\u212aworker"]},
]


def _case_events() -> Iterator[dict[str, Any]]:
    for path in sorted((ROOT / "tests" / "rules").rglob("*.cases.yml")):
        spec = yaml.safe_load(path.read_text()) or {}
        events = list(spec.get("match") or []) + list(spec.get("no_match") or [])
        for scenario in spec.get("scenarios") or []:
            events += list(scenario.get("events") or [])
        yield from (dict(e) for e in events if isinstance(e, dict))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[SqliteStore, list[Rule]]:
    paths = [ROOT / "rules"] + ([SIGMAHQ] if SIGMAHQ.exists() else [])
    rules, problems = load_rules(paths)
    assert not problems
    store = SqliteStore(tmp_path_factory.mktemp("many") / "events.db")
    store.ensure_schema()
    docs = []
    for n, doc in enumerate([*_case_events(), *TRAPS]):
        doc.setdefault("@timestamp", "2026-11-27T02:59:00Z")
        doc.setdefault("event.dataset", "system.auth")
        docs.append({**doc, "bench.seq": n})
    assert not store.write(docs, agency="a", now=AT).errors
    return store, rules


def _digest(findings: Iterable[Finding]) -> list[str]:
    return sorted(f"{f.rule.id} {f.group!r} {[h.id for h in f.hits]} {f.count}" for f in findings)


def test_it_finds_what_evaluate_finds_rule_by_rule(corpus: tuple[SqliteStore, list[Rule]]) -> None:
    store, rules = corpus
    everything = {r.id: r for r in rules}
    one_by_one = [f for rule in rules for f in evaluate(store, rule, WINDOW, rules=everything)]
    batched = [f for _, found in evaluate_many(store, rules, WINDOW, rules=everything) for f in found]
    assert len(one_by_one) > 50
    assert _digest(batched) == _digest(one_by_one)


def test_it_yields_the_rules_in_the_order_given(corpus: tuple[SqliteStore, list[Rule]]) -> None:
    store, rules = corpus
    everything = {r.id: r for r in rules}
    order = [rule.id for rule, _ in evaluate_many(store, rules[::-1], WINDOW, rules=everything)]
    assert order == [r.id for r in rules[::-1]]


def test_it_compiles_every_rule_to_the_reference_matcher(corpus: tuple[SqliteStore, list[Rule]]) -> None:
    store, rules = corpus
    docs = [hit.source for hit in store.search(MatchAll(), agencies=None, size=100_000).hits]
    queries = [r.query for r in rules if r.query is not None]
    traps: list[Query] = [
        Term("user.name", "kali"), Wildcard("message", "*session*"), Wildcard("message", "root*"),
        Or((Term("process.name", "wget"), Wildcard("process.command_line", "curl*y", cased=True))),
        Or((Wildcard("process.command_line", "*-o x?y"), Term("process.name", "WGET", cased=True))),
    ]  # fmt: skip
    disagree = [
        (q, d["event"]["hash"])
        for q in [*queries, *traps]
        for d in docs
        if compiled(q)(d, {}) != matches(d, q)
    ]
    assert not disagree
    assert sum(compiled(q)(d, {}) for q in traps for d in docs) >= 4


def test_it_splits_correlation_history_by_group_like_one_read_per_group(
    corpus: tuple[SqliteStore, list[Rule]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, rules = corpus
    everything = {r.id: r for r in rules}
    correlations = [r for r in rules if r.correlation is not None]
    bulk = [f for r in correlations for f in evaluate(store, r, WINDOW, rules=everything)]
    monkeypatch.setattr(correlate, "splits_locally", lambda *_: False)
    per_group = [f for r in correlations for f in evaluate(store, r, WINDOW, rules=everything)]
    assert bulk
    assert _digest(bulk) == _digest(per_group)
