"""Reading the on-call YAML: every problem at once, each as `file:line: where: what`.

The file is composed (not loaded) so each key and list item keeps its line, and scalars keep their
text: `start: 22:00` stays "22:00" instead of YAML 1.1's sexagesimal 1320. `parse()` also takes
plain Python data (tests, the editing API); its problems then carry no line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from soc.db.models import ROLES
from soc.errors import ConfigError
from soc.notify.oncall import (
    DEFAULT_POLICY,
    Layer,
    Level,
    OncallConfig,
    Policy,
    QuietHours,
    Route,
    Schedule,
)

LEVELS = ("informational", "low", "medium", "high", "critical")
Path_ = tuple[str | int, ...]
_DURATION = re.compile(r"^(\d+)([smhd])$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_NULLS = ("", "~", "null", "Null", "NULL")
_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")
KEYS: dict[str, tuple[str, ...]] = {
    "": ("timezone", "group", "schedules", "policies", "routes", "quiet_hours", "digest"),
    "group": ("wait", "repeat", "resolve_after"),
    "schedule": ("layers",),
    "layer": ("name", "start", "rotation", "participants", "hours"),
    "policy": ("levels", "repeat", "ack_timeout"),
    "level": ("delay", "targets"),
    "route": ("levels", "agencies", "tags", "policy", "digest"),
    "quiet_hours": ("start", "end", "levels"),
    "digest": ("at", "targets"),
}


def load(path: Path) -> OncallConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from exc
    lines: dict[Path_, int] = {}
    duplicates: list[str] = []
    data = _plain(node, (), lines, duplicates) if node is not None else {}
    return parse(data, str(path), lines=lines, problems=[f"{path}:{d}" for d in duplicates])


def parse(
    data: Any,
    source: str = "oncall.yml",
    *,
    lines: Mapping[Path_, int] | None = None,
    problems: list[str] | None = None,
) -> OncallConfig:
    """The configuration, or ConfigError listing every problem (with its line when `lines` is given)."""
    p = _Parser(source, lines, list(problems or []))
    top = p.mapping((), data, "")
    zone = p.zone(top.get("timezone", "Asia/Ho_Chi_Minh"))
    schedules = {
        str(name): p.schedule(("schedules", str(name)), value, zone)
        for name, value in p.mapping(("schedules",), top.get("schedules")).items()
    }
    policies = {"default": DEFAULT_POLICY} | {
        str(name): p.policy(("policies", str(name)), value, schedules)
        for name, value in p.mapping(("policies",), top.get("policies")).items()
    }
    routes = tuple(
        p.route(("routes", i), r, policies) for i, r in enumerate(p.sequence(("routes",), top.get("routes")))
    )
    group = p.mapping(("group",), top.get("group"), "group")
    quiet = p.quiet_hours(top.get("quiet_hours"))
    digest = p.mapping(("digest",), top.get("digest"), "digest")
    config = OncallConfig(
        zone=zone, schedules=schedules, policies=policies, routes=routes, quiet_hours=quiet,
        digest_at=p.clock(("digest", "at"), digest.get("at", "08:00")),
        digest_targets=p.targets(("digest", "targets"), digest.get("targets", ["role:oncall"]), schedules),
        group_wait=p.duration(("group", "wait"), group.get("wait", "2s")),
        repeat_interval=p.duration(("group", "repeat"), group.get("repeat", "4h"), positive=True),
        resolve_after=p.duration(("group", "resolve_after"), group.get("resolve_after", "2h"), positive=True),
    )  # fmt: skip
    if p.problems:
        raise ConfigError(sorted(p.problems, key=lambda text: _line_in(text, source)))
    return config


def plain(node: yaml.Node) -> Any:
    """The node as dicts, lists and strings (None for null)."""
    return _plain(node, (), {}, [])


def _plain(node: yaml.Node, at: Path_, lines: dict[Path_, int], duplicates: list[str]) -> Any:
    """The node as dicts, lists and strings (None for null); records each path's line."""
    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = (*at, key)
            if key in out:
                first = lines.get(path, 1)
                where = f"{_render(at)}: " if at else ""
                line = key_node.start_mark.line + 1
                duplicates.append(f"{line}: {where}duplicate key '{key}' (first on line {first})")
                continue
            lines[path] = key_node.start_mark.line + 1
            out[key] = _plain(value_node, path, lines, duplicates)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*at, i), lines, duplicates) for i, item in enumerate(node.value)]
    value = str(node.value)
    return (
        None
        if node.tag.endswith(":null") or (getattr(node, "style", None) is None and value in _NULLS)
        else value
    )


class _Parser:
    def __init__(self, source: str, lines: Mapping[Path_, int] | None, problems: list[str]) -> None:
        self.source, self.lines, self.problems = source, lines, problems

    def fail(self, at: Path_, what: str) -> None:
        where = _render(at)
        prefix = f"{where}: " if where else ""
        if self.lines is None:
            self.problems.append(f"{self.source}: {prefix}{what}")
            return
        line = next((self.lines[at[:n]] for n in range(len(at), -1, -1) if at[:n] in self.lines), 1)
        self.problems.append(f"{self.source}:{line}: {prefix}{what}")

    # -- shapes ----------------------------------------------------------------------------------
    def mapping(self, at: Path_, value: Any, kind: str | None = None) -> dict[str, Any]:
        """A mapping (None: empty); with `kind`, unknown keys are problems too."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(at, f"expected a mapping, got {_shown(value)}")
            return {}
        if kind is not None:
            allowed = KEYS[kind]
            for key in value:
                if str(key) not in allowed:
                    self.fail((*at, str(key)), f"unknown key '{key}' (expected one of {', '.join(allowed)})")
        return value

    def sequence(self, at: Path_, value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(at, f"expected a list, got {_shown(value)}")
            return []
        return value

    def strings(self, at: Path_, value: Any, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.sequence(at, value)):
            if isinstance(item, dict | list) or item is None or isinstance(item, bool):
                self.fail((*at, i), f"expected a name, got {_shown(item)}")
            elif allowed is not None and str(item) not in allowed:
                self.fail((*at, i), f"unknown value '{item}' (expected one of {', '.join(allowed)})")
            else:
                out.append(str(item))
        return tuple(out)

    # -- values ----------------------------------------------------------------------------------
    def zone(self, name: Any) -> ZoneInfo:
        try:
            return ZoneInfo(str(name))
        except (KeyError, ValueError):
            self.fail(("timezone",), f"unknown time zone '{name}'")
            return ZoneInfo("Asia/Ho_Chi_Minh")

    def duration(self, at: Path_, value: Any, *, positive: bool = False) -> timedelta:
        m = _DURATION.match(str(value).strip()) if isinstance(value, str | int) else None
        if not m or (positive and int(m.group(1)) == 0):
            least = "longer than 0, " if positive else ""
            self.fail(at, f"expected a duration {least}like 30s, 10m, 4h or 7d, got {_shown(value)}")
            return timedelta(0)
        return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})

    def clock(self, at: Path_, value: Any) -> time:
        found = _time_of_day(str(value)) if isinstance(value, str) else None
        if found is None:
            self.fail(at, f"expected a time of day like 08:00, got {_shown(value)}")
        return found or time(0)

    def hours(self, at: Path_, value: Any) -> tuple[time, time]:
        start, _, end = str(value).partition("-")
        span = (_time_of_day(start), _time_of_day(end))
        if span[0] is None or span[1] is None:
            self.fail(at, f"expected HH:MM-HH:MM, got {_shown(value)}")
            return time(0), time(0)
        return span[0], span[1]

    def count(self, at: Path_, value: Any) -> int:
        try:
            n = int(str(value))
        except ValueError:
            n = -1
        if isinstance(value, bool) or n < 0:
            self.fail(at, f"expected a whole number (0 or more), got {_shown(value)}")
            return 0
        return n

    def flag(self, at: Path_, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in _TRUE + _FALSE:
            return str(value).lower() in _TRUE
        self.fail(at, f"expected true or false, got {_shown(value)}")
        return False

    def targets(self, at: Path_, value: Any, schedules: Mapping[str, Schedule]) -> tuple[str, ...]:
        out = self.strings(at, value)
        for i, target in enumerate(out):
            kind, _, ref = target.partition(":")
            if kind not in ("schedule", "user", "role") or not ref:
                self.fail((*at, i), f"target '{target}': use schedule:NAME, user:USERNAME or role:ROLE")
            elif kind == "schedule" and ref not in schedules:
                self.fail((*at, i), f"unknown schedule '{ref}'")
            elif kind == "role" and ref not in ROLES:
                self.fail((*at, i), f"unknown role '{ref}' (expected one of {', '.join(ROLES)})")
        return out

    # -- parts -----------------------------------------------------------------------------------
    def schedule(self, at: Path_, data: Any, zone: ZoneInfo) -> Schedule:
        layers = []
        body = self.mapping(at, data, "schedule")
        for i, raw in enumerate(self.sequence((*at, "layers"), body.get("layers"))):
            where = (*at, "layers", i)
            layer = self.mapping(where, raw, "layer")
            if not layer:
                continue
            try:
                start = datetime.fromisoformat(str(layer.get("start"))).replace(tzinfo=zone)
            except ValueError:
                got = _shown(layer.get("start"))
                self.fail((*where, "start"), f"expected a hand-off time like '2026-11-23 09:00', got {got}")
                start = datetime(2000, 1, 1, tzinfo=zone)
            people = self.strings((*where, "participants"), layer.get("participants"))
            if not people and isinstance(layer.get("participants"), list | None):
                self.fail((*where, "participants"), "at least one person is needed")
            rotation = self.duration((*where, "rotation"), layer.get("rotation", "7d"), positive=True)
            hours = self.hours((*where, "hours"), layer["hours"]) if layer.get("hours") is not None else None
            name = str(layer.get("name", f"layer {i + 1}"))
            layers.append(Layer(name, start, rotation or timedelta(days=7), people, hours))
        if not layers and not body.get("layers"):
            self.fail(at, "needs at least one layer")
        return Schedule(str(at[-1]), tuple(layers))

    def policy(self, at: Path_, data: Any, schedules: Mapping[str, Schedule]) -> Policy:
        body = self.mapping(at, data, "policy")
        levels = []
        for i, raw in enumerate(self.sequence((*at, "levels"), body.get("levels"))):
            where = (*at, "levels", i)
            level = self.mapping(where, raw, "level")
            targets = self.targets((*where, "targets"), level.get("targets"), schedules)
            if not targets and level:
                self.fail((*where, "targets"), "at least one target is needed")
            levels.append(Level(self.duration((*where, "delay"), level.get("delay", "0m")), targets))
        if not levels and not body.get("levels"):
            self.fail(at, "needs at least one level")
        repeat = self.count((*at, "repeat"), body.get("repeat", 1))
        timeout = self.duration((*at, "ack_timeout"), body.get("ack_timeout", "30m"), positive=True)
        return Policy(str(at[-1]), tuple(levels), repeat, timeout)

    def route(self, at: Path_, data: Any, policies: Mapping[str, Policy]) -> Route:
        body = self.mapping(at, data, "route")
        route = Route(
            levels=self.strings((*at, "levels"), body.get("levels"), LEVELS),
            agencies=self.strings((*at, "agencies"), body.get("agencies")),
            tags=self.strings((*at, "tags"), body.get("tags")),
            policy=str(body.get("policy", "default")),
            digest=self.flag((*at, "digest"), body.get("digest", False)),
        )
        if route.policy not in policies:
            self.fail((*at, "policy"), f"unknown policy '{route.policy}'")
        return route

    def quiet_hours(self, data: Any) -> QuietHours | None:
        at: Path_ = ("quiet_hours",)
        body = self.mapping(at, data, "quiet_hours")
        if not body:
            return None
        start = self.clock((*at, "start"), body.get("start"))
        end = self.clock((*at, "end"), body.get("end"))
        levels = self.strings((*at, "levels"), body.get("levels", ["medium", "low"]), LEVELS)
        return QuietHours(start, end, levels)


def _line_in(problem: str, source: str) -> int:
    """Problems read top to bottom: the line after `source:`, 0 when there is none."""
    line = problem[len(source) + 1 :].partition(":")[0]
    return int(line) if line.isdigit() else 0


def _time_of_day(text: str) -> time | None:
    m = _TIME.match(text.strip())
    if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return time(int(m.group(1)), int(m.group(2)))


def _render(at: Path_) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)
