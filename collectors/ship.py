"""Send NDJSON events to the SOC's ingest endpoint, in batches, until the SOC has accepted each one.

A batch is retried (with backoff) on connection errors, 429 and 5xx, because only the SOC's 200
means the store holds it; 4xx other than 429 is the sender's fault and retrying cannot help.
TLS certificates are always verified (a CA file may be given for a private CA).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRYABLE = frozenset({429, 500, 502, 503, 504})


class ShipError(Exception):
    """The SOC refused a batch for good, or stayed unreachable through every retry."""


@dataclass
class Totals:
    lines: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    unparsed: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, answer: dict[str, Any], first_line: int) -> None:
        self.lines += int(answer.get("lines", 0))
        self.created += int(answer.get("created", 0))
        self.duplicates += int(answer.get("duplicates", 0))
        self.rejected += int(answer.get("rejected", 0))
        self.unparsed += len(answer.get("warnings", []))
        for item in answer.get("errors", []):
            self.problems.append(f"line {first_line + int(item['line']) - 1}: {item['reason']}")


def batches(lines: Iterable[bytes], *, max_lines: int, max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Group lines into request bodies; yields (number of the batch's first line, body)."""
    chunk: list[bytes] = []
    size = 0
    first = 1
    number = 0
    for number, line in enumerate(lines, start=1):
        line = line.rstrip(b"\r\n") + b"\n"
        if chunk and (len(chunk) >= max_lines or size + len(line) > max_bytes):
            yield first, b"".join(chunk)
            chunk, size, first = [], 0, number
        chunk.append(line)
        size += len(line)
    if chunk:
        yield first, b"".join(chunk)


def ship(
    lines: Iterable[bytes],
    *,
    url: str,
    token: str,
    ca_file: str | None = None,
    max_lines: int = 1000,
    max_bytes: int = 4 * 1024 * 1024,
    retries: int = 8,
    timeout_s: float = 30,
) -> Totals:
    totals = Totals()
    endpoint = url.rstrip("/") + "/api/v1/ingest"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    verify: Any = ssl.create_default_context(cafile=ca_file) if ca_file else True
    with httpx.Client(verify=verify, timeout=timeout_s, headers=headers) as client:
        for first, body in batches(lines, max_lines=max_lines, max_bytes=max_bytes):
            totals.add(_send(client, endpoint, body, retries), first)
    return totals


def _send(client: httpx.Client, endpoint: str, body: bytes, retries: int) -> dict[str, Any]:
    delay = 0.5
    last = ""
    for _ in range(retries + 1):
        try:
            response = client.post(endpoint, content=body)
        except httpx.TransportError as exc:
            last = f"cannot reach {endpoint}: {exc}"
        else:
            if response.status_code == 200:
                answer: dict[str, Any] = response.json()
                return answer
            last = f"{endpoint} answered {response.status_code}: {_reason(response)}"
            if response.status_code not in RETRYABLE:
                raise ShipError(last)
        time.sleep(delay)
        delay = min(delay * 2, 30.0)
    raise ShipError(f"gave up after {retries + 1} attempts: {last}")


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:300]
    except ValueError:
        return response.text[:300]
