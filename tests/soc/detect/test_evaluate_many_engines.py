"""On the engines, a detection cycle's batch (the window scrolled out once and matched here) finds
exactly what each rule's own query finds on the node, and what SQLite finds.

The same corpus as test_evaluate_many.py: every match, near-miss and scenario event of the bundled
cases files plus the case-folding traps, against the bundled rules and the SigmaHQ set. This is the
proof that moving the batch's matching off the node changed no answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from soc import settings as settings_mod
from soc.detect.evaluate import evaluate, evaluate_many
from soc.detect.model import Finding, Rule
from soc.detect.rules import load_rules
from soc.settings import Settings
from soc.store.base import Window
from soc.store.clients import connect
from soc.store.search import SearchStore
from soc.store.sqlite import SqliteStore
from tests.soc.detect.test_evaluate_many import AT, ROOT, SIGMAHQ, TRAPS, WINDOW, _case_events, _digest

_prefixes = itertools.count()


def _docs() -> list[dict[str, object]]:
    docs = []
    for n, doc in enumerate([*_case_events(), *TRAPS]):
        doc.setdefault("@timestamp", "2026-11-27T02:59:00Z")
        doc.setdefault("event.dataset", "system.auth")
        docs.append({**doc, "bench.seq": n})
    return docs


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    paths = [ROOT / "rules"] + ([SIGMAHQ] if SIGMAHQ.exists() else [])
    found, problems = load_rules(paths)
    assert not problems
    return found


@pytest.fixture(scope="module")
def sqlite_digest(rules: list[Rule], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    store = SqliteStore(tmp_path_factory.mktemp("many") / "events.db")
    store.ensure_schema()
    assert not store.write(_docs(), agency="a", now=AT).errors
    everything = {r.id: r for r in rules}
    return _digest(f for _, found in evaluate_many(store, rules, WINDOW, rules=everything) for f in found)


_settings: dict[str, Settings] = {}


def engine_settings(store: SearchStore) -> Settings:
    return _settings[store.prefix]


@pytest.fixture(scope="module", params=["opensearch", "elasticsearch"])
def engine(request: pytest.FixtureRequest) -> Iterator[SearchStore]:
    if request.param == "opensearch":
        url = request.getfixturevalue("opensearch_url")
        settings = settings_mod.load(environ={}, store="opensearch", store_url=url)
    else:
        settings = request.getfixturevalue("elasticsearch_settings")
        assert isinstance(settings, Settings)
    prefix = f"many{next(_prefixes)}"
    _settings[prefix] = settings
    store = SearchStore(connect(settings), prefix=prefix)
    store.ensure_schema()
    assert not store.write(_docs(), agency="a", now=AT).errors
    # A second agency's copy of the corpus: the batch must stay inside the agency it is asked for.
    assert not store.write(_docs(), agency="b", now=AT).errors
    store.refresh()
    yield store
    for name in store.engine.indices(f"{prefix}-*"):
        store.engine.delete_index(name)
    store.close()


def test_the_batch_finds_what_each_rule_query_finds_on_the_node(
    engine: SearchStore, rules: list[Rule], sqlite_digest: list[str]
) -> None:
    everything = {r.id: r for r in rules}
    single = [r for r in rules if r.correlation is None]
    batched = [
        f
        for _, found in evaluate_many(engine, single, WINDOW, rules=everything, agencies=["a"])
        for f in found
    ]
    on_node = [f for r in single for f in evaluate(engine, r, WINDOW, rules=everything, agencies=["a"])]
    assert len(on_node) > 50
    assert _digest(batched) == _digest(on_node)
    assert {h.source["organization"]["id"] for f in batched for h in f.hits} == {"a"}
    assert {h.index.split(".")[0] for f in batched for h in f.hits} == {f"{engine.prefix}-events-a"}


def test_a_whole_cycle_gives_the_sqlite_findings(
    engine: SearchStore, rules: list[Rule], sqlite_digest: list[str]
) -> None:
    everything = {r.id: r for r in rules}
    found = [
        f for _, got in evaluate_many(engine, rules, WINDOW, rules=everything, agencies=["a"]) for f in got
    ]
    assert _digest(found) == sqlite_digest


def test_the_batch_reads_nothing_outside_its_window(engine: SearchStore, rules: list[Rule]) -> None:
    everything = {r.id: r for r in rules}
    later = Window(WINDOW.end, WINDOW.end + (WINDOW.end - WINDOW.start))
    assert not [f for _, got in evaluate_many(engine, rules, later, rules=everything) for f in got]


def test_a_batch_over_many_scroll_pages_loses_nothing(
    engine: SearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soc.store import clients
    from soc.store.query import Wildcard

    docs = [
        {"@timestamp": "2026-11-27T02:59:00Z", "event.dataset": "x.y", "message": f"m{i}"}
        for i in range(12_345)
    ]
    assert not engine.write(docs, agency="c", now=AT).errors
    engine.refresh()
    requests = [(Wildcard("message", "M1*"), ["x.y"], WINDOW), (Wildcard("message", "*5"), None, WINDOW)]
    monkeypatch.setattr(clients, "SCROLL_PAGE", 1000)
    answers = engine.search_many(requests, agencies=["c"])
    expected = [
        sum(1 for i in range(12_345) if f"m{i}".startswith("m1")),
        sum(1 for i in range(12_345) if i % 10 == 5),
    ]
    assert [len(a) for a in answers] == expected
    assert all(a == sorted(a, key=lambda h: h.cursor) for a in answers)
    assert len({h.id for h in answers[0]}) == expected[0]


@pytest.mark.parametrize("worker_url", ["same", "broken"])
def test_a_pass_split_over_worker_processes_gives_the_same_hits(
    engine: SearchStore, rules: list[Rule], monkeypatch: pytest.MonkeyPatch, worker_url: str
) -> None:
    """Sliced over two processes (one of them this one), or with a worker that cannot reach the
    engine (its slice is then read here): the same findings as the single-process pass."""
    from dataclasses import replace

    from soc.store import search

    settings = engine_settings(engine)
    if worker_url == "broken":
        settings = replace(settings, store_url="http://127.0.0.1:9")
    split = SearchStore(connect(engine_settings(engine)), prefix=engine.prefix, settings=settings, workers=2)
    monkeypatch.setattr(search, "PARALLEL_MIN", 1)
    everything = {r.id: r for r in rules}
    try:
        found = [
            f for _, got in evaluate_many(split, rules, WINDOW, rules=everything, agencies=["a"]) for f in got
        ]
        single = [
            f
            for _, got in evaluate_many(engine, rules, WINDOW, rules=everything, agencies=["a"])
            for f in got
        ]
    finally:
        split.close()
    assert len(found) > 50
    assert _digest(found) == _digest(single)


def _cycle(store: SearchStore, rules: list[Rule], window: Window) -> list[Finding]:
    everything = {r.id: r for r in rules}
    return [
        f for _, got in evaluate_many(store, rules, window, rules=everything, agencies=["a"]) for f in got
    ]
