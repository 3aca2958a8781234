"""The `store` fixture: every test in this folder runs once per available backend."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc import settings as settings_mod
from soc.settings import Settings
from soc.store.base import EventStore
from soc.store.clients import connect
from soc.store.search import SearchStore
from soc.store.sqlite import SqliteStore

# Elasticsearch joins when a cluster is given (issue 2); issue 8 starts one in the test command.
BACKENDS = ["sqlite", "opensearch"] + (
    ["elasticsearch"] if os.environ.get("SOC_TEST_ELASTICSEARCH_URL") else []
)
_prefixes = itertools.count()


def make_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    prefix = f"t{next(_prefixes)}"
    if backend == "sqlite":
        sqlite_store = SqliteStore(tmp_path / "events.db", prefix=prefix)
        sqlite_store.ensure_schema()
        yield sqlite_store
        sqlite_store.close()
        return
    if backend == "opensearch":
        url = request.getfixturevalue("opensearch_url")
        settings = settings_mod.load(environ={}, store="opensearch", store_url=url)
    else:
        settings = request.getfixturevalue("elasticsearch_settings")
        assert isinstance(settings, Settings)
    search_store = SearchStore(connect(settings), prefix=prefix)
    search_store.ensure_schema()
    yield search_store
    for pattern in (f"{prefix}-events-*", f"{prefix}-rejected-*"):
        for name in search_store.engine.indices(pattern):
            search_store.engine.delete_index(name)
    search_store.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    yield from make_store(request.param, request, tmp_path)
