"""One small adapter over the two official clients.

The `elasticsearch` client refuses to talk to OpenSearch (product check) and opensearch-py does
not speak Elasticsearch 8's compatibility headers, so each engine keeps its own client; the JSON
bodies passed through here are identical.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from soc.errors import StoreError
from soc.settings import Settings

log = logging.getLogger(__name__)


class Engine(Protocol):
    name: str

    def put_template(self, name: str, template: dict[str, Any]) -> None: ...
    def bulk(self, ndjson: bytes) -> dict[str, Any]: ...
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def msearch(self, index: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One response per body (a failed one holds `error`), in order."""
        ...

    def count(self, index: str, query: dict[str, Any]) -> int: ...
    def index(self, index: str, doc: dict[str, Any]) -> None: ...
    def indices(self, pattern: str) -> list[str]: ...
    def delete_index(self, name: str) -> None: ...
    def refresh(self, pattern: str) -> None: ...
    def health(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class OpenSearchEngine:
    name = "opensearch"

    def __init__(self, settings: Settings) -> None:
        from opensearchpy import OpenSearch

        auth = (settings.store_username, settings.store_password) if settings.store_username else None
        headers = {"Authorization": f"ApiKey {settings.store_api_key}"} if settings.store_api_key else None
        self.client = OpenSearch(
            hosts=[settings.store_url],
            http_auth=auth,
            headers=headers,
            verify_certs=settings.store_verify_certs,
            ca_certs=settings.store_ca_file or None,
            ssl_show_warn=not settings.store_verify_certs,
            timeout=60,
            http_compress=False,
        )

    def put_template(self, name: str, template: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, body=template)

    def bulk(self, ndjson: bytes) -> dict[str, Any]:
        return dict(self.client.bulk(body=ndjson))

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.search(index=index, body=body))

    def msearch(self, index: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines = [line for body in bodies for line in ({"index": index}, body)]
        return list(self.client.msearch(body=lines)["responses"])

    def count(self, index: str, query: dict[str, Any]) -> int:
        return int(self.client.count(index=index, body={"query": query})["count"])

    def index(self, index: str, doc: dict[str, Any]) -> None:
        self.client.index(index=index, body=doc)

    def indices(self, pattern: str) -> list[str]:
        return sorted(self.client.indices.get(index=pattern, params={"expand_wildcards": "open"}))

    def delete_index(self, name: str) -> None:
        self.client.indices.delete(index=name)

    def refresh(self, pattern: str) -> None:
        self.client.indices.refresh(index=pattern)

    def health(self) -> dict[str, Any]:
        return dict(self.client.cluster.health())

    def close(self) -> None:
        self.client.close()


class ElasticsearchEngine:
    name = "elasticsearch"

    def __init__(self, settings: Settings) -> None:
        from elasticsearch import Elasticsearch

        options: dict[str, Any] = {"ca_certs": settings.store_ca_file} if settings.store_ca_file else {}
        self.client = Elasticsearch(
            settings.store_url,
            basic_auth=(settings.store_username, settings.store_password)
            if settings.store_username
            else None,
            api_key=settings.store_api_key or None,
            verify_certs=settings.store_verify_certs,
            ssl_show_warn=not settings.store_verify_certs,
            request_timeout=60,
            **options,
        )

    def put_template(self, name: str, template: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, **template)

    def bulk(self, ndjson: bytes) -> dict[str, Any]:
        # The client passes pre-serialised NDJSON through untouched.
        return dict(self.client.bulk(operations=ndjson))  # type: ignore[arg-type]

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.search(index=index, **body))

    def msearch(self, index: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines = [line for body in bodies for line in ({"index": index}, body)]
        return list(self.client.msearch(searches=lines)["responses"])

    def count(self, index: str, query: dict[str, Any]) -> int:
        return int(self.client.count(index=index, query=query)["count"])

    def index(self, index: str, doc: dict[str, Any]) -> None:
        self.client.index(index=index, document=doc)

    def indices(self, pattern: str) -> list[str]:
        return sorted(self.client.indices.get(index=pattern, expand_wildcards="open"))

    def delete_index(self, name: str) -> None:
        self.client.indices.delete(index=name)

    def refresh(self, pattern: str) -> None:
        self.client.indices.refresh(index=pattern)

    def health(self) -> dict[str, Any]:
        return dict(self.client.cluster.health())

    def close(self) -> None:
        self.client.close()


def connect(settings: Settings) -> Engine:
    if not settings.store_verify_certs:
        log.warning("TLS certificate verification of the event store is OFF (store_verify_certs=false)")
    try:
        if settings.store == "opensearch":
            return OpenSearchEngine(settings)
        if settings.store == "elasticsearch":
            return ElasticsearchEngine(settings)
    except Exception as exc:
        raise StoreError(
            f"cannot create {settings.store} client for {_safe(settings.store_url)}: {exc}"
        ) from exc
    raise StoreError(f"not a search-engine backend: {settings.store}")


def _safe(url: str) -> str:
    """The URL without any user:password part."""
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.rpartition("@")[2] if sep else url.rpartition("@")[2]
