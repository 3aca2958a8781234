"""Per-collector EPS cap with burst: a token bucket on delivery, backpressure instead of loss.

The bucket sits where events leave the collector (the sink side), so whatever the sources do, the
SOC never receives more than `events_per_second` on average, nor more than `burst` at once after a
quiet spell. Nothing is dropped on the way there: network sources cannot be asked to wait, so their
excess spills into the disk spool and drains at the cap; file sources are already on disk, so they
pause (stop reading, checkpoint unchanged) once `burst` events are waiting in the spool, which
keeps the spool's room for the records that cannot wait. Wazuh's agent buffer plays the same role
with the same defaults (500 EPS, 5,000 events) but drops what does not fit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateLimit:
    events_per_second: float
    """Average events per second the collector delivers at most."""
    burst: int
    """Events that may leave at once after a quiet spell (the bucket's size); also how many events
    may wait in the spool before file sources pause."""


@dataclass
class TokenBucket:
    limit: RateLimit
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)
    waited_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = float(self.limit.burst)
        self.stamp = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        rate, burst = self.limit.events_per_second, self.limit.burst
        self.tokens = min(float(burst), self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def delay(self, count: int) -> float:
        """Seconds until `count` (≤ burst) tokens are there; 0 when they are there now."""
        self._refill()
        missing = min(count, self.limit.burst) - self.tokens
        return max(0.0, missing / self.limit.events_per_second)

    def take(self, count: int, stop: threading.Event) -> bool:
        """Wait for `count` tokens and spend them; False if `stop` was set while waiting.

        A count above the burst waits for a full bucket and leaves it in debt, so the average
        still holds; callers keep their batches at most `burst` to stay within it at every moment.
        """
        while (wait := self.delay(count)) > 0:
            self.waited_seconds += wait
            if stop.wait(wait):
                return False
        self.tokens -= count
        return True
