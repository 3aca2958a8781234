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
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import orjson

from collectors.sinks.base import RETRYABLE, Delivery, Refused, Retry
from soc.ecs import dataset_slug, format_time, parse_time

_AGENCY_UNSAFE = re.compile(r"[^a-z0-9_-]+")  # as soc.store.prepare.agency_part: never a '.'


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
    compress: bool = True
    """gzip request bodies."""
    timeout_seconds: float = 30.0

    def resources(self) -> list[str]:
        return []

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

    def send(self, docs: list[tuple[str, bytes]]) -> Delivery:
        body = bytearray()
        now = format_time(_now())
        for doc_id, raw in docs:
            doc = orjson.loads(raw)
            event = doc.setdefault("event", {})
            event["ingested"], event["hash"] = now, doc_id
            if self.config.agency:
                doc["organization"] = {**doc.get("organization", {}), "id": self.config.agency}
            body += orjson.dumps({"create": {"_index": self._index(doc), "_id": doc_id}}) + b"\n"
            body += orjson.dumps(doc) + b"\n"
        headers = {}
        content = gzip.compress(body, 1) if self.config.compress else bytes(body)
        if self.config.compress:
            headers = {"Content-Encoding": "gzip"}
        try:
            response = self.client.post(self.endpoint, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise Retry(f"cannot reach {self.endpoint}: {exc}") from exc
        if response.status_code in RETRYABLE:
            raise Retry(f"{self.endpoint} answered {response.status_code}")
        if response.status_code != 200:
            raise Refused(f"{self.endpoint} answered {response.status_code}: {response.text[:300]}")
        return _outcome(response.json())

    def _index(self, doc: dict[str, Any]) -> str:
        try:
            at = parse_time(doc.get("@timestamp"))
            day = f"{at.year:04d}.{at.month:02d}.{at.day:02d}"
        except ValueError:
            day = "undated"
        agency = _AGENCY_UNSAFE.sub("_", self.config.agency.lower())[:64] or "_"
        slug = dataset_slug(doc.get("event", {}).get("dataset"))
        return f"{self.config.index_prefix}-events-{agency}.{slug}-{day}"

    def close(self) -> None:
        self.client.close()


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


def _read(path: str) -> str:
    if not path:
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _now() -> datetime:
    return datetime.now(UTC)
