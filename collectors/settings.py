"""collector.yml: sources → transforms → sinks, each a typed config chosen by `type:`.

Loading collects every problem with its file and line (`collector.yml:7: sources.web: unknown
option 'pahts'`) instead of stopping at the first, the way `soc-collector validate` prints them.
Component options are the dataclass fields of the registered class, so the registry is the only
place a new type is declared.
"""

from __future__ import annotations

import dataclasses
import socket
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from collectors.clashes import Claim
from collectors.clashes import problems as clashes
from collectors.multiline import Multiline
from collectors.parsers import FORMATS
from collectors.parsers.base import zone
from collectors.ratelimit import RateLimit
from collectors.sinks import SINKS
from collectors.sinks.opensearch import OpenSearchSink
from collectors.sinks.soc import SocSink
from collectors.sources import SOURCES, Source
from collectors.sources.file import FileSource


@dataclass(frozen=True)
class ParseTransform:
    type: ClassVar[str] = "parse"
    inputs: tuple[str, ...]
    """Sources whose records this parses."""
    format: str = "auto"
    """A parser name (see `soc-collector parse --help`) or auto."""
    timezone: str = "Asia/Ho_Chi_Minh"
    """Zone of timestamps written without one (RFC 3164, Apache, nginx error)."""
    year: int | None = None
    """Year of the first year-less timestamp; default: inferred."""


TRANSFORMS = {"parse": ParseTransform}
DEFAULT_PARSE = ParseTransform(inputs=())
MAX_BATCH_BYTES = 8 << 20
"""A delivery stays below the service's 10 MiB ingest body limit (uncompressed, with framing)."""


@dataclass
class CollectorConfig:
    data_dir: str
    sources: dict[str, Source]
    parsers: dict[str, ParseTransform]
    sink_name: str
    sink: OpenSearchSink | SocSink
    host: str = field(default_factory=socket.gethostname)
    spool_max_bytes: int = 256 << 20
    batch_events: int = 1000
    batch_bytes: int = MAX_BATCH_BYTES
    in_flight: int = 3
    """Requests out to the sink at once (each one batch), acked in spool order."""
    metrics_address: str = ""
    heartbeat_seconds: float = 60.0
    rate_limit: RateLimit | None = None
    claims: list[Claim] = field(default_factory=list)
    """Files, ports and directories this collector uses, with file:line (see collectors.clashes)."""


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


TOP = {
    "data_dir",
    "host",
    "sources",
    "transforms",
    "sinks",
    "spool",
    "batch",
    "metrics",
    "heartbeat_seconds",
    "rate_limit",
}


def load(path: Path) -> CollectorConfig:
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"{path}: {exc}"]) from exc
    return Loader(str(path)).load(node)


class Loader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []
        self.claims: list[Claim] = []

    def where(self, node: yaml.Node | None) -> str:
        return f"{self.name}:{node.start_mark.line + 1 if node is not None else 1}"

    def problem(self, node: yaml.Node | None, text: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.name}:{line}: {text}")

    def load(self, root: yaml.Node | None) -> CollectorConfig:
        top = self.mapping(root, "the file")
        for key, (knode, _) in top.items():
            if key not in TOP:
                self.problem(knode, f"unknown setting '{key}'")
        sources = {n: c for n, c in self.components(top, "sources", SOURCES).items()}
        transforms = self.components(top, "transforms", TRANSFORMS)
        sinks = self.components(top, "sinks", SINKS)
        parsers = {name: DEFAULT_PARSE for name in sources}
        declared = set(self.mapping(top.get("sources", (None, None))[1], "sources"))
        for tname, transform in transforms.items():
            tnode = top["transforms"][1]
            for source in transform.inputs:
                if source not in declared:
                    self.problem(tnode, f"transforms.{tname}: input '{source}' is not a source")
                parsers[source] = transform
        if "sinks" in top and len(sinks) != 1:
            self.problem(top["sinks"][1], "exactly one sink per collector is supported")
        if "sources" not in top:
            self.problem(root, "no sources: add at least one under 'sources:'")
        if "sinks" not in top:
            self.problem(root, "no sink: add one under 'sinks:'")
        scalars = {
            k: self.scalar(v) for k, (_, v) in top.items() if k in ("data_dir", "host", "heartbeat_seconds")
        }
        spool = self.options(top, "spool", {"max_bytes": (int, 1 << 16, None)})
        metrics = self.options(top, "metrics", {"address": (str, None, None)})
        batch = self.options(
            top,
            "batch",
            {"events": (int, 1, 100_000), "bytes": (int, 1 << 16, MAX_BATCH_BYTES), "in_flight": (int, 1, 8)},
        )
        if "data_dir" not in scalars:
            self.problem(root, "data_dir is required (where checkpoints and the spool live)")
        rate_limit = self.rate_limit(top.get("rate_limit"))
        if "data_dir" in scalars:
            where = self.where(top["data_dir"][1])
            self.claims.insert(0, Claim(f"state:{scalars['data_dir']}", "data_dir", where))
        if "address" in metrics:
            node = self.mapping(top["metrics"][1], "metrics")["address"][1]
            self.claims.append(Claim(f"tcp:{metrics['address']}", "metrics.address", self.where(node)))
        self.problems += clashes(self.claims)
        if self.problems:
            raise ConfigError(self.problems)
        sink_name, sink = next(iter(sinks.items()))
        extra: dict[str, Any] = {}
        if "host" in scalars:
            extra["host"] = str(scalars["host"])
        if "heartbeat_seconds" in scalars:
            extra["heartbeat_seconds"] = float(scalars["heartbeat_seconds"])
        if "max_bytes" in spool:
            extra["spool_max_bytes"] = int(spool["max_bytes"])
        if "address" in metrics:
            extra["metrics_address"] = str(metrics["address"])
        if "events" in batch:
            extra["batch_events"] = batch["events"]
        if "bytes" in batch:
            extra["batch_bytes"] = batch["bytes"]
        if "in_flight" in batch:
            extra["in_flight"] = batch["in_flight"]
        if rate_limit is not None:
            extra["rate_limit"] = rate_limit
        extra["claims"] = self.claims
        return CollectorConfig(str(scalars["data_dir"]), sources, parsers, sink_name, sink, **extra)

    def rate_limit(self, entry: tuple[yaml.Node, yaml.Node] | None) -> RateLimit | None:
        """`rate_limit: {events_per_second: 500, burst: 5000}`; burst defaults to one second's worth."""
        if entry is None:
            return None
        knode, body = entry
        if not isinstance(body, yaml.MappingNode):
            self.problem(body, "rate_limit must be a mapping (events_per_second, burst)")
            return None
        before = len(self.problems)
        values: dict[str, Any] = {}
        for key, (k, v) in self.mapping(body, "rate_limit").items():
            value = self.scalar(v)
            if key == "events_per_second":
                if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                    self.problem(v, f"rate_limit.events_per_second: must be a number above 0, not {value!r}")
                values[key] = value
            elif key == "burst":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    self.problem(v, f"rate_limit.burst: must be a whole number of events ≥ 1, not {value!r}")
                values[key] = value
            else:
                self.problem(k, f"rate_limit: unknown option '{key}' (known: events_per_second, burst)")
        if "events_per_second" not in values:
            self.problem(knode, "rate_limit: 'events_per_second' is required")
        if len(self.problems) > before:
            return None
        eps = float(values["events_per_second"])
        return RateLimit(eps, int(values.get("burst", max(1, round(eps)))))

    def options(
        self,
        top: dict[str, tuple[yaml.Node, yaml.Node]],
        section: str,
        known: dict[str, tuple[type, int | None, int | None]],
    ) -> dict[str, Any]:
        """A small section of `key: value` options: unknown keys, wrong types and values out of
        [least, most] are problems (with their line), never silently ignored."""
        out: dict[str, Any] = {}
        for key, (knode, vnode) in self.mapping(top.get(section, (None, None))[1], section).items():
            if key not in known:
                self.problem(knode, f"{section}: unknown option '{key}' (known: {', '.join(known)})")
                continue
            kind, least, most = known[key]
            value = self.scalar(vnode)
            if kind is int and (type(value) is not int or (least is not None and value < least)):
                self.problem(vnode, f"{section}.{key}: expected a whole number >= {least}, got {value!r}")
            elif kind is int and most is not None and value > most:
                self.problem(vnode, f"{section}.{key}: at most {most}, got {value}")
            elif kind is str and not isinstance(value, str):
                self.problem(vnode, f"{section}.{key}: expected text, got {value!r}")
            else:
                out[key] = value
        return out

    def mapping(self, node: yaml.Node | None, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return {}
        return {str(k.value): (k, v) for k, v in node.value}

    def scalar(self, node: yaml.Node) -> Any:
        return yaml.safe_load(yaml.serialize(node))

    def components(
        self, top: dict[str, tuple[yaml.Node, yaml.Node]], section: str, registry: dict[str, Any]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, (knode, body) in self.mapping(top.get(section, (None, None))[1], section).items():
            fields = self.mapping(body, f"{section}.{name}")
            kind = fields.get("type")
            if kind is None:
                self.problem(knode, f"{section}.{name}: missing 'type' (one of {', '.join(registry)})")
                continue
            cls = registry.get(str(kind[1].value))
            if cls is None:
                self.problem(
                    kind[1],
                    f"{section}.{name}: unknown type '{kind[1].value}' (one of {', '.join(registry)})",
                )
                continue
            built = self.build(cls, f"{section}.{name}", knode, fields)
            if built is not None:
                out[name] = built
                detail = str(getattr(built, "filter", ""))
                for resource in built.resources() if hasattr(built, "resources") else []:
                    self.claims.append(Claim(resource, f"{section}.{name}", self.where(knode), detail))
        return out

    def build(
        self, cls: Any, where: str, knode: yaml.Node, fields: dict[str, tuple[yaml.Node, yaml.Node]]
    ) -> Any:
        hints = typing.get_type_hints(cls)
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        before = len(self.problems)
        for key, (k, v) in fields.items():
            if key == "type":
                continue
            if key not in known:
                self.problem(k, f"{where}: unknown option '{key}' (known: {', '.join(known)})")
                continue
            value = self.coerce(hints[key], self.scalar(v), v, f"{where}.{key}")
            values[key] = value
        for name, f in known.items():
            if (
                f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
                and name not in values
            ):
                self.problem(knode, f"{where}: '{name}' is required")
        if len(self.problems) > before:
            return None
        obj = cls(**values)
        self.check(obj, where, knode)
        return obj

    def coerce(self, hint: Any, value: Any, node: yaml.Node, where: str) -> Any:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (types.UnionType, typing.Union):
            if value is None and type(None) in args:
                return None
            hint = next(a for a in args if a is not type(None))
            origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is Multiline and isinstance(value, dict):
            try:
                return Multiline(**value)
            except TypeError as exc:
                self.problem(node, f"{where}: {exc}")
                return None
        if origin is tuple:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(i, str) for i in items):
                self.problem(node, f"{where}: must be a list of strings")
            return tuple(str(i) for i in items)
        ok = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}.get(hint, (object,))
        if not isinstance(value, ok) or (hint in (int, float) and isinstance(value, bool)):
            self.problem(node, f"{where}: must be {getattr(hint, '__name__', hint)}, not {value!r}")
            return value
        return float(typing.cast(float, value)) if hint is float else value

    def check(self, obj: Any, where: str, node: yaml.Node) -> None:
        if isinstance(obj, ParseTransform):
            if obj.format not in FORMATS:
                self.problem(node, f"{where}: unknown format '{obj.format}' (one of {', '.join(FORMATS)})")
            try:
                zone(obj.timezone)
            except Exception:
                self.problem(node, f"{where}: unknown timezone '{obj.timezone}'")
        if isinstance(obj, FileSource) and obj.start_at not in ("beginning", "end"):
            self.problem(node, f"{where}: start_at must be 'beginning' or 'end'")
        if isinstance(obj, OpenSearchSink | SocSink) and not obj.url.startswith(("http://", "https://")):
            self.problem(node, f"{where}: url must start with https:// (or http:// on loopback)")
        for problem in obj.problems() if hasattr(obj, "problems") else []:
            self.problem(node, f"{where}: {problem}")
        for attr in (
            "ca_file",
            "token_file",
            "api_key_file",
            "password_file",
            "tls_cert_file",
            "tls_key_file",
        ):
            value = getattr(obj, attr, "")
            if value and not Path(value).is_file():
                self.problem(node, f"{where}: {attr} '{value}' does not exist")
