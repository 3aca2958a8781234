"""On-call: schedules (layered rotations, overrides), escalation policies, routes, quiet hours.

Loaded from YAML (`oncall_file`); overrides and silences added at run time live in the database.
Within a schedule, an override wins, then the highest layer that has someone at that moment.
Every problem in the file is reported at once, each as `file: where: what`.

    timezone: Asia/Ho_Chi_Minh
    group: {wait: 30s, repeat: 4h, resolve_after: 2h}
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

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from soc.errors import ConfigError

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


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
    group_wait: timedelta = timedelta(seconds=30)
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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from exc
    return parse(data, str(path))


def parse(data: Any, source: str = "oncall.yml") -> OncallConfig:
    problems: list[str] = []
    p = _Parser(source, problems)
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping"])
    zone = p.zone(data.get("timezone", "Asia/Ho_Chi_Minh"))
    schedules = {str(n): p.schedule(str(n), s, zone) for n, s in (data.get("schedules") or {}).items()}
    policies = {"default": DEFAULT_POLICY} | {
        str(n): p.policy(str(n), v, schedules) for n, v in (data.get("policies") or {}).items()
    }
    routes = tuple(p.route(i, r, policies) for i, r in enumerate(data.get("routes") or []))
    group = data.get("group") or {}
    quiet = data.get("quiet_hours")
    digest = data.get("digest") or {}
    config = OncallConfig(
        zone=zone, schedules=schedules, policies=policies, routes=routes,
        quiet_hours=QuietHours(*p.hours("quiet_hours", f"{quiet.get('start')}-{quiet.get('end')}"),
                               tuple(quiet.get("levels", ("medium", "low")))) if quiet else None,
        digest_at=p.hours("digest.at", f"{digest.get('at', '08:00')}-00:00")[0],
        digest_targets=tuple(digest.get("targets", ("role:oncall",))),
        group_wait=p.duration("group.wait", group.get("wait", "30s")),
        repeat_interval=p.duration("group.repeat", group.get("repeat", "4h")),
        resolve_after=p.duration("group.resolve_after", group.get("resolve_after", "2h")),
    )  # fmt: skip
    if problems:
        raise ConfigError(problems)
    return config


class _Parser:
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{self.source}: {where}: {what}")

    def zone(self, name: Any) -> ZoneInfo:
        try:
            return ZoneInfo(str(name))
        except (KeyError, ValueError):
            self.fail("timezone", f"unknown time zone '{name}'")
            return ZoneInfo("Asia/Ho_Chi_Minh")

    def duration(self, where: str, value: Any) -> timedelta:
        m = _DURATION.match(str(value).strip())
        if not m:
            self.fail(where, f"expected a duration like 30s, 10m, 4h or 7d, got {value!r}")
            return timedelta(0)
        return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})

    def hours(self, where: str, value: str) -> tuple[time, time]:
        try:
            start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
            return start, end
        except ValueError:
            self.fail(where, f"expected HH:MM-HH:MM, got {value!r}")
            return time(0), time(0)

    def schedule(self, name: str, data: Any, zone: ZoneInfo) -> Schedule:
        layers = []
        for i, layer in enumerate((data or {}).get("layers") or []):
            where = f"schedules.{name}.layers[{i}]"
            try:
                start = datetime.fromisoformat(str(layer["start"])).replace(tzinfo=zone)
            except (KeyError, ValueError):
                self.fail(where, "start: expected a hand-off time like '2026-11-23 09:00'")
                continue
            people = tuple(str(u) for u in layer.get("participants") or [])
            if not people:
                self.fail(where, "participants: at least one person is needed")
            rotation = self.duration(f"{where}.rotation", layer.get("rotation", "7d"))
            hours = self.hours(f"{where}.hours", str(layer["hours"])) if layer.get("hours") else None
            layers.append(
                Layer(
                    str(layer.get("name", f"layer {i + 1}")),
                    start,
                    rotation or timedelta(days=7),
                    people,
                    hours,
                )
            )
        if not layers:
            self.fail(f"schedules.{name}", "needs at least one layer")
        return Schedule(name, tuple(layers))

    def policy(self, name: str, data: Any, schedules: dict[str, Schedule]) -> Policy:
        levels = []
        for i, level in enumerate((data or {}).get("levels") or []):
            targets = tuple(str(t) for t in level.get("targets") or [])
            for target in targets:
                kind, _, ref = target.partition(":")
                if kind not in ("schedule", "user", "role") or not ref:
                    self.fail(
                        f"policies.{name}.levels[{i}]", f"target '{target}': use schedule:, user: or role:"
                    )
                elif kind == "schedule" and ref not in schedules:
                    self.fail(f"policies.{name}.levels[{i}]", f"unknown schedule '{ref}'")
            levels.append(
                Level(self.duration(f"policies.{name}.levels[{i}].delay", level.get("delay", "0m")), targets)
            )
        if not levels:
            self.fail(f"policies.{name}", "needs at least one level")
        timeout = self.duration(f"policies.{name}.ack_timeout", (data or {}).get("ack_timeout", "30m"))
        return Policy(name, tuple(levels), int((data or {}).get("repeat", 1)), timeout)

    def route(self, i: int, data: Any, policies: dict[str, Policy]) -> Route:
        route = Route(
            levels=tuple(data.get("levels") or ()), agencies=tuple(data.get("agencies") or ()),
            tags=tuple(data.get("tags") or ()), policy=str(data.get("policy", "default")),
            digest=bool(data.get("digest", False)),
        )  # fmt: skip
        if route.policy not in policies:
            self.fail(f"routes[{i}]", f"unknown policy '{route.policy}'")
        return route


def _within(t: time, start: time, end: time) -> bool:
    return start <= t < end if start <= end else (t >= start or t < end)
