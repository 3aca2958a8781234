"""One small adapter over the two official clients.

The `elasticsearch` client refuses to talk to OpenSearch (product check) and opensearch-py does
not speak Elasticsearch 8's compatibility headers, so each engine keeps its own client; the JSON
bodies passed through here are identical.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from soc.errors import StoreError
from soc.settings import Settings

log = logging.getLogger(__name__)


class Engine(Protocol):
    name: str

    def put_template(self, name: str, template: dict[str, Any]) -> None: ...
    def bulk(self, ndjson: bytes) -> dict[str, Any]: ...
    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def scroll(self, index: str, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every hit of `body`'s query (`_id`, `_index`, `_source`), page by page, in index order
        (`_doc`: the cheapest way to read a whole result set); the scroll is cleared at the end."""
        ...

    def count(self, index: str, query: dict[str, Any]) -> int: ...
    def index(self, index: str, doc: dict[str, Any]) -> None: ...
    def indices(self, pattern: str) -> list[str]: ...
    def delete_index(self, name: str) -> None: ...
    def refresh(self, pattern: str) -> None: ...
    def health(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


SCROLL_KEEP = "2m"
"""How long the engine keeps a scroll between two pages."""
SCROLL_PAGE = 5000
"""Hits per shard per scroll page."""
SCROLL_FIELDS = "_scroll_id,hits.hits._id,hits.hits._index,hits.hits._source"


class OpenSearchEngine:
    name = "opensearch"

    def __init__(self, settings: Settings) -> None:
        from opensearchpy import OpenSearch
        from opensearchpy.serializer import JSONSerializer

        class OrjsonSerializer(JSONSerializer):
            """orjson for responses and bodies: a detection pass decodes whole windows of events,
            where the standard json module costs ~40% more client CPU (measured on 200k events)."""

            def loads(self, s: str) -> Any:
                return orjson.loads(s)

            def dumps(self, data: Any) -> Any:
                if isinstance(data, (str, bytes)):
                    return data
                try:
                    return orjson.dumps(data).decode()
                except TypeError:
                    return super().dumps(data)

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
            serializer=OrjsonSerializer(),
        )

    def put_template(self, name: str, template: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, body=template)

    def bulk(self, ndjson: bytes) -> dict[str, Any]:
        return dict(self.client.bulk(body=ndjson))

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.search(index=index, body=body))

    def scroll(self, index: str, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        params = {"scroll": SCROLL_KEEP, "filter_path": SCROLL_FIELDS}
        page = {**body, "sort": ["_doc"], "size": SCROLL_PAGE}
        response = self.client.search(index=index, body=page, params=params)
        scroll_id = response.get("_scroll_id")
        try:
            while hits := response.get("hits", {}).get("hits"):
                yield hits
                response = self.client.scroll(
                    body={"scroll_id": scroll_id, "scroll": SCROLL_KEEP}, params=params
                )
                scroll_id = response.get("_scroll_id", scroll_id)
        finally:
            if scroll_id:
                self.client.clear_scroll(body={"scroll_id": [scroll_id]}, ignore=(404,))

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
        from elasticsearch.serializer import OrjsonSerializer

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
            serializer=OrjsonSerializer(),
            **options,
        )

    def put_template(self, name: str, template: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, **template)

    def bulk(self, ndjson: bytes) -> dict[str, Any]:
        # The client passes pre-serialised NDJSON through untouched.
        return dict(self.client.bulk(operations=ndjson))  # type: ignore[arg-type]

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.search(index=index, **body))

    def scroll(self, index: str, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        fields = SCROLL_FIELDS.split(",")
        response = self.client.search(
            index=index, scroll=SCROLL_KEEP, filter_path=fields, sort=["_doc"], size=SCROLL_PAGE, **body
        )
        scroll_id = response.get("_scroll_id")
        try:
            while hits := response.get("hits", {}).get("hits"):
                yield hits
                response = self.client.scroll(scroll_id=scroll_id, scroll=SCROLL_KEEP, filter_path=fields)
                scroll_id = response.get("_scroll_id", scroll_id)
        finally:
            if scroll_id:
                self.client.options(ignore_status=404).clear_scroll(scroll_id=scroll_id)

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
