"""`soc`: the service's ingest endpoint with the collector's agency token (the agency comes from it).

The service stores a collector's event under an id derived from the agency and the collector's
`event.id` (host + source identity + offset; soc.ecs.identity), so a re-sent or re-read line is a
duplicate, and two identical lines at different offsets are two events.
"""

from __future__ import annotations

import gzip
import ssl
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from collectors.ship import _reason
from collectors.sinks.base import Delivery, Spooled, gzip_by_default, post_checked


@dataclass(frozen=True)
class SocSink:
    type: ClassVar[str] = "soc"
    url: str
    """The SOC's base URL, e.g. https://soc.cantho.gov.vn."""
    token: str = ""
    """Collector token (prefer token_file)."""
    token_file: str = ""
    ca_file: str = ""
    """CA bundle for the SOC's certificate; certificates are always verified."""
    compress: bool | None = None
    """gzip request bodies; default: yes, except to a loopback address."""
    timeout_seconds: float = 30.0

    def prepare(self, ev: dict[str, Any], doc_id: str) -> str:
        """Nothing to do as an event is spooled: the service stamps and routes what it receives."""
        return ""

    def resources(self) -> list[str]:
        return []

    def connect(self) -> Ingest:
        token = self.token
        if not token and self.token_file:
            with open(self.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        verify: Any = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True
        return Ingest(self, httpx.Client(verify=verify, timeout=self.timeout_seconds, headers=headers))


class Ingest:
    def __init__(self, config: SocSink, client: httpx.Client) -> None:
        self.config = config
        self.client = client
        self.endpoint = config.url.rstrip("/") + "/api/v1/ingest"

    def send(self, docs: list[Spooled]) -> Delivery:
        return self.post(self.request(docs))

    def request(self, docs: list[Spooled]) -> tuple[bytes, dict[str, str]]:
        """The NDJSON body for `docs` and its headers."""
        content = b"".join(part for doc in docs for part in (doc.document, b"\n"))
        compress = self.config.compress
        if compress if compress is not None else gzip_by_default(self.config.url):
            return gzip.compress(content, 1), {"Content-Encoding": "gzip"}
        return content, {}

    def post(self, request: tuple[bytes, dict[str, str]]) -> Delivery:
        """Send a request made by `request` and read what became of each document."""
        content, headers = request
        response = post_checked(self.client, self.endpoint, _reason, content=content, headers=headers)
        answer = response.json()
        out = Delivery(created=int(answer.get("created", 0)), duplicates=int(answer.get("duplicates", 0)))
        # the service keeps refused documents in its own quarantine: we only count them here
        out.rejected = [(int(e["line"]) - 1, str(e["reason"])) for e in answer.get("errors", [])]
        return out

    def close(self) -> None:
        self.client.close()
