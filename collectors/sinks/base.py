"""The sink contract: deliver a batch of (id, document) pairs and say what became of each.

`send` raises `Retry` when the whole batch may be tried again (network error, 429, 5xx) and
`Refused` when retrying cannot help (bad credentials, unknown index). Per-document outcomes come
back in `Delivery`: `retry` lists the positions worth sending again (429 on one document),
`rejected` the ones the engine refused for good, kept by the pipeline with their reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


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
