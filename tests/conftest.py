"""Session-wide real parts: the OpenSearch node and a secured Elasticsearch node (or given clusters).

With CI=true a part that does not start fails the run; elsewhere it skips with the reason.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from soc import settings as settings_mod
from soc.settings import Settings
from soc.store.base import EventStore
from soc.store.clients import connect
from soc.store.search import SearchStore
from soc.store.sqlite import SqliteStore

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
def elasticsearch_admin() -> Iterator[Settings]:
    """A real, secured Elasticsearch as its administrator: $SOC_TEST_ELASTICSEARCH_URL (+ _API_KEY,
    _CA_FILE) as given, or a node started for this session with TLS on HTTP, a file-realm superuser
    (basic auth) and the analysis shim that lets it create API keys (see soc.engine.elastic)."""
    url = os.environ.get("SOC_TEST_ELASTICSEARCH_URL")
    if url:
        yield _given_elasticsearch(url)
        return
    from soc.engine import elastic
    from soc.errors import EngineError

    home = Path(tempfile.mkdtemp(prefix="soc-test-es-"))  # under /tmp: reachable by the ES user
    try:
        node = elastic.start(home)
    except EngineError as exc:
        shutil.rmtree(home, ignore_errors=True)
        unavailable(f"Elasticsearch node did not start: {exc}")
        return
    try:
        yield settings_mod.load(
            environ={}, store="elasticsearch", store_url=node.url, store_username=elastic.ADMIN,
            store_password=node.admin_password, store_ca_file=str(node.ca_file),
        )  # fmt: skip
    finally:
        node.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def elasticsearch_settings(elasticsearch_admin: Settings) -> Settings:
    """What the service gets on that Elasticsearch: an API key that the administrator creates through
    the security API, limited to the soc_service role over any index prefix (`*-events-*` …), used
    through the official client. A given cluster's credentials are used as they are."""
    if elasticsearch_admin.store_api_key:
        return elasticsearch_admin
    from soc.engine.bootstrap import roles
    from soc.store.clients import ElasticsearchEngine

    admin = ElasticsearchEngine(elasticsearch_admin)
    try:
        key = admin.client.security.create_api_key(
            name="soc-test-service", role_descriptors={"soc_service": roles("*", [])["soc_service"]}
        )
    except Exception as exc:  # the client's own errors: say why, fail under CI
        unavailable(f"Elasticsearch did not issue an API key: {type(exc).__name__}: {exc}")
        raise
    finally:
        admin.close()
    return dataclasses.replace(
        elasticsearch_admin, store_username="", store_password="", store_api_key=str(key["encoded"])
    )


def _given_elasticsearch(url: str) -> Settings:
    return settings_mod.load(
        environ={k: v for k, v in os.environ.items() if k.startswith("SOC_TEST_")}
        | {
            "SOC_STORE": "elasticsearch",
            "SOC_STORE_URL": url,
            "SOC_STORE_API_KEY": os.environ.get("SOC_TEST_ELASTICSEARCH_API_KEY", ""),
            "SOC_STORE_CA_FILE": os.environ.get("SOC_TEST_ELASTICSEARCH_CA_FILE", ""),
        }
    )


BACKENDS = ["sqlite", "opensearch", "elasticsearch"]
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
