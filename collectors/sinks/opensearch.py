"""`opensearch` / `elasticsearch`: straight to the engine's `_bulk`, create-only, deterministic `_id`.

A re-sent document answers 409 and counts as a duplicate, so at-least-once delivery never stores
twice. Indices follow the service's naming (`<prefix>-events-<dataset>-YYYY.MM.DD`), so detection
reads what a collector wrote directly exactly as what came through the service. TLS is always
verified (`ca_file` for a private CA); auth by API key or user + password.
"""

from __future__ import annotations

import base64
import gzip
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, ClassVar

import httpx
import orjson

from collectors.sinks.base import RETRYABLE, Delivery, Spooled, gzip_by_default, post_checked
from soc.ecs import dataset_slug, format_time, parse_time
from soc.store.prepare import index_name

_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)


@dataclass(frozen=True)
class OpenSearchSink:
    type: ClassVar[str] = "opensearch"
    url: str
    """Engine URL, e.g. https://engine.soc.example.vn:9200."""
    agency: str = ""
    """organization.id written on every event (the service takes it from the token instead)."""
    index_prefix: str = "soc"
    """Indices are <prefix>-events-<agency>.<dataset>-<day>, as the service writes them, so an
    engine role can limit a collector to its own agency's indices (`soc engine bootstrap`)."""
    api_key: str = ""
    """Base64 `id:key` API key (or use api_key_file)."""
    api_key_file: str = ""
    username: str = ""
    password: str = ""
    password_file: str = ""
    ca_file: str = ""
    """CA bundle for the engine's certificate; certificates are always verified."""
    compress: bool | None = None
    """gzip request bodies; default: yes, except to a loopback address (there gzip costs the
    collector and the engine more CPU than the bytes it saves)."""
    timeout_seconds: float = 30.0

    def resources(self) -> list[str]:
        return []

    def prepare(self, ev: dict[str, Any], doc_id: str) -> str:
        """Done once per event as it is spooled, so that delivery only has `event.ingested` to add:
        `event.hash` is the id, `organization.id` the agency, and `event` becomes the last key
        (its JSON then ends in `}}`, where delivery splices `ingested` in). Returns the index;
        "" when the event has no `event` object to splice into (delivery then parses it)."""
        if self.agency:
            org = ev.get("organization")
            ev["organization"] = {**org, "id": self.agency} if isinstance(org, dict) else {"id": self.agency}
        event = ev.get("event")
        if not isinstance(event, dict):
            return ""
        event.pop("ingested", None)
        event["hash"] = doc_id
        ev["event"] = ev.pop("event")
        return self.index_for(ev)

    def index_for(self, ev: dict[str, Any]) -> str:
        """<prefix>-events-<agency>.<dataset>-<UTC day of @timestamp>, as the service names them."""
        stamp = ev.get("@timestamp")
        if isinstance(stamp, str) and _CANONICAL.fullmatch(stamp):
            day = stamp[:10]  # the parsers' own form (soc.ecs.format_time): already UTC
        else:
            try:
                day = parse_time(stamp).date().isoformat()
            except ValueError:
                day = ""
        event = ev.get("event")
        dataset = event.get("dataset") if isinstance(event, dict) else None
        return _index_name(self.index_prefix, self.agency, dataset if isinstance(dataset, str) else None, day)

    def connect(self) -> Bulk:
        headers = {"Content-Type": "application/x-ndjson"}
        key = self.api_key or _read(self.api_key_file)
        if key:
            headers["Authorization"] = f"ApiKey {key}"
        elif self.username:
            secret = self.password or _read(self.password_file)
            token = base64.b64encode(f"{self.username}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        verify: Any = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True
        client = httpx.Client(verify=verify, timeout=self.timeout_seconds, headers=headers)
        return Bulk(self, client)


@dataclass(frozen=True)
class ElasticsearchSink(OpenSearchSink):
    type: ClassVar[str] = "elasticsearch"


class Bulk:
    def __init__(self, config: OpenSearchSink, client: httpx.Client) -> None:
        self.config = config
        self.client = client
        self.endpoint = config.url.rstrip("/") + "/_bulk"
        self.compress = gzip_by_default(config.url) if config.compress is None else config.compress
        self._actions: dict[str, bytes] = {}
        """`{"create":{"_index":…,"_id":` by index: index names are few, events many."""

    def send(self, docs: list[Spooled]) -> Delivery:
        return self.post(self.request(docs))

    def post(self, request: tuple[bytes, dict[str, str]]) -> Delivery:
        """Send a request made by `request` and read what became of each document."""
        body, headers = request
        # only each item's status and error come back: the full answer (index, id, version,
        # shards, seq_no per document) is ~5x the bytes to read and parse
        response = post_checked(
            self.client, self.endpoint, _text, content=body, headers=headers, params=FILTER
        )
        return _outcome(orjson.loads(response.content))

    def request(self, docs: list[Spooled]) -> tuple[bytes, dict[str, str]]:
        """The `_bulk` body for `docs` and its headers."""
        parts: list[bytes | memoryview] = []
        now = format_time(_now())
        # a prepared document ends with its `event` object: `}}` becomes `,"ingested":…}}`
        tail = b',"ingested":' + orjson.dumps(now) + b"}}\n"
        for doc_id, raw, index in docs:
            if index and raw[-2:] == b"}}":
                parts += (self._action(index), orjson.dumps(doc_id), b"}}\n", raw[:-2], tail)
            else:  # spooled by a version that prepared nothing: the same work, now
                doc = orjson.loads(raw)
                index = self.config.prepare(doc, doc_id) or self.config.index_for(doc)
                if isinstance(event := doc.get("event"), dict):
                    event["ingested"] = now
                parts.append(self._action(index) + orjson.dumps(doc_id) + b"}}\n")
                parts.append(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        body = b"".join(parts)
        del parts
        if self.compress:
            return gzip.compress(body, 1), {"Content-Encoding": "gzip"}
        return body, {}

    def _action(self, index: str) -> bytes:
        action = self._actions.get(index)
        if action is None:
            if len(self._actions) >= 4096:
                self._actions.clear()
            action = self._actions[index] = b'{"create":{"_index":' + orjson.dumps(index) + b',"_id":'
        return action

    def close(self) -> None:
        self.client.close()


FILTER = {"filter_path": "items.*.status,items.*.error"}


@lru_cache(maxsize=4096)
def _index_name(prefix: str, agency: str, dataset: str | None, day: str) -> str:
    try:
        at = date.fromisoformat(day)
        part = f"{at.year:04d}.{at.month:02d}.{at.day:02d}"
    except ValueError:
        part = "undated"
    return index_name(prefix, agency, dataset_slug(dataset), part)


def _outcome(answer: dict[str, Any]) -> Delivery:
    out = Delivery()
    for position, item in enumerate(answer.get("items", [])):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status in (200, 201):
            out.created += 1
        elif status == 409:
            out.duplicates += 1
        elif status in RETRYABLE:
            out.retry.append(position)
        else:
            error = result.get("error", {})
            out.rejected.append((position, f"{error.get('type', status)}: {error.get('reason', '')}"[:500]))
    return out


def _text(response: httpx.Response) -> str:
    return response.text[:300]


def _read(path: str) -> str:
    if not path:
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _now() -> datetime:
    return datetime.now(UTC)
