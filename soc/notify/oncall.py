"""On-call: schedules (layered rotations, overrides), escalation policies, routes, quiet hours.

Loaded from YAML (`oncall_file`); overrides and silences added at run time live in the database.
Within a schedule, an override wins, then the highest layer that has someone at that moment.
Every problem in the file is reported at once, each as `file:line: where: what` (oncall_file.py).

    timezone: Asia/Ho_Chi_Minh
    group: {wait: 2s, repeat: 4h, resolve_after: 2h}
    schedules:
      primary:
        layers:
          - {name: weekly, start: "2026-11-23 09:00", rotation: 7d, participants: [an, binh]}
          - {name: office, start: "2026-11-23 08:00", rotation: 1d, participants: [chi], hours: "08:00-17:00"}
    policies:
      default:
        ack_timeout: 30m
        repeat: 2
        levels:
          - {delay: 0m, targets: ["schedule:primary"]}
          - {delay: 10m, targets: ["user:lead"]}
    routes:
      - {levels: [informational, low], digest: true}
      - {agencies: [syt], tags: [attack.t1110], policy: default}
    quiet_hours: {start: "22:00", end: "06:30", levels: [medium]}
    digest: {at: "08:00", targets: ["schedule:primary"]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Override:
    schedule: str
    username: str
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class Layer:
    name: str
    start: datetime
    """The first hand-off; every `rotation` after it the next participant takes over."""
    rotation: timedelta
    participants: tuple[str, ...]
    hours: tuple[time, time] | None = None
    """Daily local window the layer covers (may wrap midnight); None: all day."""

    def who(self, at: datetime) -> str | None:
        if at < self.start or not self.participants:
            return None
        if self.hours is not None and not _within(at.astimezone(self.start.tzinfo).time(), *self.hours):
            return None
        turns = int((at - self.start) / self.rotation)
        return self.participants[turns % len(self.participants)]


@dataclass(frozen=True)
class Schedule:
    name: str
    layers: tuple[Layer, ...]

    def who(self, at: datetime, overrides: tuple[Override, ...] = ()) -> str | None:
        for o in reversed(overrides):
            if o.schedule == self.name and o.start_at <= at < o.end_at:
                return o.username
        for layer in reversed(self.layers):
            person = layer.who(at)
            if person is not None:
                return person
        return None

    def gaps(
        self,
        start: datetime,
        end: datetime,
        overrides: tuple[Override, ...] = (),
        step: timedelta = timedelta(minutes=15),
    ) -> list[tuple[datetime, datetime]]:
        """Spans (to `step` precision) when nobody is on call."""
        spans: list[tuple[datetime, datetime]] = []
        at = start
        while at < end:
            if self.who(at, overrides) is None:
                if spans and spans[-1][1] == at:
                    spans[-1] = (spans[-1][0], at + step)
                else:
                    spans.append((at, at + step))
            at += step
        return spans


@dataclass(frozen=True)
class Level:
    delay: timedelta
    targets: tuple[str, ...]
    """`schedule:NAME`, `user:USERNAME` or `role:ROLE`."""


@dataclass(frozen=True)
class Policy:
    name: str
    levels: tuple[Level, ...]
    repeat: int = 1
    """How many more times the whole policy is paged when nobody acknowledges."""
    ack_timeout: timedelta = timedelta(minutes=30)


DEFAULT_POLICY = Policy(
    "default",
    (Level(timedelta(0), ("role:oncall",)), Level(timedelta(minutes=15), ("role:admin",))),
    repeat=1,
)


@dataclass(frozen=True)
class Route:
    levels: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    policy: str = "default"
    digest: bool = False

    def matches(self, level: str, agency: str | None, tags: list[str]) -> bool:
        return (
            (not self.levels or level in self.levels)
            and (not self.agencies or agency in self.agencies)
            and (not self.tags or bool(set(self.tags) & set(tags)))
        )


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    levels: tuple[str, ...]
    """Only these levels wait for quiet hours to end; the others page at once."""


@dataclass(frozen=True)
class OncallConfig:
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    schedules: dict[str, Schedule] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=lambda: {"default": DEFAULT_POLICY})
    routes: tuple[Route, ...] = ()
    quiet_hours: QuietHours | None = None
    digest_at: time = time(8, 0)
    digest_targets: tuple[str, ...] = ("role:oncall",)
    group_wait: timedelta = timedelta(seconds=2)
    """How long a new group waits before its first page, so alerts committed moments apart (a
    rule's two live windows after a pause) go out as one mail. A detection run writes all of a
    window's alerts in one transaction and catch-up alerts go to the digest, so the wait need not
    cover a cycle: Alertmanager's 30 s would add 30 s to every page (bench/e2e_latency.py)."""
    repeat_interval: timedelta = timedelta(hours=4)
    resolve_after: timedelta = timedelta(hours=2)

    def route(self, level: str, agency: str | None, tags: list[str]) -> Route:
        """The first route that matches; without one, the `default` policy."""
        return next((r for r in self.routes if r.matches(level, agency, tags)), Route())

    def policy(self, name: str | None) -> Policy:
        return self.policies.get(name or "default") or self.policies.get("default") or DEFAULT_POLICY

    def quiet_until(self, at: datetime, level: str) -> datetime | None:
        """When a notice of this level, due at `at`, may go out if quiet hours hold it back."""
        q = self.quiet_hours
        local = at.astimezone(self.zone)
        if q is None or level not in q.levels or not _within(local.time(), q.start, q.end):
            return None
        end = local.replace(hour=q.end.hour, minute=q.end.minute, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)


def load(path: Path) -> OncallConfig:
    """The on-call file, or ConfigError listing every problem as `file:line: where: what`."""
    from soc.notify import oncall_file

    return oncall_file.load(path)


def parse(data: Any, source: str = "oncall.yml") -> OncallConfig:
    """Plain data (a dict as the YAML would give) checked like the file; problems carry no line."""
    from soc.notify import oncall_file

    return oncall_file.parse(data, source)


def _within(t: time, start: time, end: time) -> bool:
    return start <= t < end if start <= end else (t >= start or t < end)
