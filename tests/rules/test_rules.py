"""Every bundled rule: loads cleanly, passes `soc rules check`, and its cases pass on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc import settings as settings_mod
from soc.detect import cases
from soc.detect.check import check
from soc.detect.cli import close_test_store, open_test_store
from soc.detect.rules import load_rules

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_it_bundles_forty_rules_and_four_correlations() -> None:
    rules, problems = load_rules([RULES])
    assert problems == []
    correlations = {r.correlation.type for r in rules if r.correlation is not None}
    assert len([r for r in rules if r.correlation is None]) >= 40
    assert correlations == {"event_count", "value_count", "temporal", "temporal_ordered"}


def test_it_checks_the_bundled_rules_without_problems() -> None:
    assert check([RULES]) == []


def test_it_gives_every_rule_a_cases_file() -> None:
    rules, _ = load_rules([RULES])
    assert [r.path for r in rules if not cases.cases_path(r.path).exists()] == []


@pytest.mark.parametrize("backend", ["sqlite", "opensearch", "elasticsearch"])
def test_it_passes_every_rule_case(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    settings = None
    if backend == "opensearch":
        url = request.getfixturevalue("opensearch_url")
        settings = settings_mod.load(environ={}, store="opensearch", store_url=url)
    elif backend == "elasticsearch":  # secured, TLS, the service's API key
        settings = request.getfixturevalue("elasticsearch_settings")
    rules, _ = load_rules([RULES])
    store = open_test_store(tmp_path, settings)
    try:
        results = cases.run(store, rules, {r.id: r for r in rules})
    finally:
        close_test_store(store)
    assert [f for r in results for f in r.failures] == []
    assert sum(r.cases for r in results) > 200
