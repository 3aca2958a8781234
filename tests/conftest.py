"""Session-wide real parts: the OpenSearch node (and an Elasticsearch cluster when one is given).

With CI=true a part that does not start fails the run; elsewhere it skips with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc import settings as settings_mod
from soc.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere: a real part that did not start is never silently ignored."""
    if IN_CI:
        pytest.fail(f"real part unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def opensearch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OpenSearch node: $SOC_TEST_OPENSEARCH_URL, or one started for this session."""
    given = os.environ.get("SOC_TEST_OPENSEARCH_URL")
    if given:
        yield given
        return
    from soc.engine.launcher import Node
    from soc.errors import EngineError

    home = Path(os.environ.get("SOC_TEST_ENGINE_HOME") or tmp_path_factory.mktemp("engine"))
    try:
        node = Node.start(home, heap_mb=768)
    except EngineError as exc:
        unavailable(f"OpenSearch node did not start: {exc}")
        return
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(scope="session")
def elasticsearch_settings() -> Settings:
    """An Elasticsearch cluster given by SOC_TEST_ELASTICSEARCH_URL (+ _API_KEY, _CA_FILE)."""
    url = os.environ["SOC_TEST_ELASTICSEARCH_URL"]
    return settings_mod.load(
        environ={k: v for k, v in os.environ.items() if k.startswith("SOC_TEST_")}
        | {
            "SOC_STORE": "elasticsearch",
            "SOC_STORE_URL": url,
            "SOC_STORE_API_KEY": os.environ.get("SOC_TEST_ELASTICSEARCH_API_KEY", ""),
            "SOC_STORE_CA_FILE": os.environ.get("SOC_TEST_ELASTICSEARCH_CA_FILE", ""),
        }
    )
