"""The sink contract: deliver a batch of spooled documents and say what became of each.

A connected sink has two halves, so that the pipeline can build one batch's request while the
previous one is in flight: `request(docs)` builds the request, `post(request)` sends it (`send`
does both). `post` raises `Retry` when the whole batch may be tried again (network error, 429,
5xx) and `Refused` when retrying cannot help (bad credentials, unknown index). Per-document outcomes come
back in `Delivery`: `retry` lists the positions worth sending again (429 on one document),
`rejected` the ones the engine refused for good, kept by the pipeline with their reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


class Spooled(NamedTuple):
    """One event as the spool holds it."""

    id: str
    document: bytes | memoryview
    """The event as JSON (a view into the spool frame it was read from: no copy per event)."""
    route: str
    """What the sink's `prepare` returned when the event was spooled ("" for events spooled by a
    version without it: the sink then does that work at delivery)."""


class Retry(Exception):
    """Temporary failure of the whole batch."""


class Refused(Exception):
    """Permanent failure of the whole batch (configuration or credentials)."""


@dataclass
class Delivery:
    created: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)


def backoff(attempt: int, *, first: float = 0.2, cap: float = 10.0) -> float:
    return float(min(cap, first * (2 ** min(attempt, 10))))


def gzip_by_default(url: str) -> bool:
    """Compress unless the peer is on this machine: on loopback, gzip is CPU spent on both ends
    (level 1: ~2-4 µs per event here, plus the engine's inflating) to save bytes that cost nothing."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def post_checked(
    client: httpx.Client, endpoint: str, reason: Callable[[httpx.Response], str], **request: Any
) -> httpx.Response:
    """POST a batch; a network error or a retryable status raises Retry, any other answer than 200
    raises Refused with `reason(response)`."""
    try:
        response = client.post(endpoint, **request)
    except httpx.TransportError as exc:
        raise Retry(f"cannot reach {endpoint}: {exc}") from exc
    if response.status_code in RETRYABLE:
        raise Retry(f"{endpoint} answered {response.status_code}")
    if response.status_code != 200:
        raise Refused(f"{endpoint} answered {response.status_code}: {reason(response)}")
    return response
