"""Which ingest-time windows a rule must evaluate next, from its committed watermark.

Pure functions of (watermark, now): no clock, no database, so every scheduling property is a
plain test. Windows are half-open [start, end) over `event.ingested`, contiguous from the
watermark, and end at `now - settle` so the engine has refreshed everything inside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Plan:
    windows: list[tuple[datetime, datetime]]
    """Oldest first, contiguous; the watermark may advance to each end in turn."""
    gap: tuple[datetime, datetime] | None
    """A span skipped because it is older than the catch-up cap: recorded, never silently lost."""
    backfill_before: datetime
    """Windows starting before this are catch-up (backfill) rather than live."""


@dataclass(frozen=True)
class Timing:
    interval: timedelta = timedelta(minutes=5)
    settle: timedelta = timedelta(seconds=10)
    """How far behind now a window must end: covers the engine's refresh interval."""
    max_window: timedelta = timedelta(hours=1)
    """Catch-up proceeds in windows no longer than this."""
    catch_up: timedelta = timedelta(hours=24)
    """Older than this behind now is not caught up automatically: it becomes a gap to backfill."""
    max_windows_per_run: int = 6
    """Bound on work per run; the rest is picked up by the next run, oldest first."""


def plan(watermark: datetime | None, now: datetime, timing: Timing) -> Plan:
    end = now - timing.settle
    live_from = end - 2 * timing.interval
    if watermark is None:
        watermark = end - timing.interval  # a new rule starts with the latest interval
    gap = None
    floor = end - timing.catch_up
    if watermark < floor:
        gap = (watermark, floor)
        watermark = floor
    windows: list[tuple[datetime, datetime]] = []
    start = watermark
    while start < end and len(windows) < timing.max_windows_per_run:
        stop = min(start + timing.max_window, end)
        windows.append((start, stop))
        start = stop
    return Plan(windows, gap, live_from)


def chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """Split [start, end) into contiguous windows of at most `size` (for backfilling a gap)."""
    out = []
    while start < end:
        stop = min(start + size, end)
        out.append((start, stop))
        start = stop
    return out
