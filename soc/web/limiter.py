"""Login rate limiting per client address, on top of the per-account lockout in soc.db.accounts.

In process memory on purpose: it only has to slow down guessing from one address through one
service process; the account lockout (in the database) is what holds across processes.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginLimiter:
    def __init__(self, attempts: int = 10, per_seconds: float = 300.0) -> None:
        self.attempts = attempts
        self.per = per_seconds
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> float:
        """0 when an attempt from `client` may go ahead (and counts it), else seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.setdefault(client, deque())
            while seen and seen[0] <= now - self.per:
                seen.popleft()
            if len(seen) >= self.attempts:
                return seen[0] + self.per - now
            seen.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses so memory stays bounded
                for key in [k for k, v in self._seen.items() if not v]:
                    del self._seen[key]
            return 0.0
