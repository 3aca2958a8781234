"""ECS field names and the helpers shared with collectors/ (which may import this module alone).

The store, the detection engine and the collectors agree here on three things: which ECS fields
have a non-keyword type, how a document is normalised (dotted keys expanded to objects), and how a
document's deterministic id is derived.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

# Fields whose type is not keyword. Every other string field is a keyword; unknown fields too.
IP_FIELDS = frozenset(
    {
        "client.ip", "destination.ip", "host.ip", "observer.ip", "related.ip", "server.ip",
        "source.ip", "source.nat.ip", "destination.nat.ip",
    }
)  # fmt: skip
LONG_FIELDS = frozenset(
    {
        "client.port", "destination.port", "server.port", "source.port", "source.bytes",
        "destination.bytes", "network.bytes", "network.packets", "http.response.status_code",
        "http.response.body.bytes", "http.request.body.bytes", "event.severity", "process.pid",
        "process.parent.pid", "log.offset", "dns.question.subdomain_length",
        "event.sequence",
    }
)  # fmt: skip
DATE_FIELDS = frozenset({"@timestamp", "event.ingested", "event.created", "event.start", "event.end"})
BOOLEAN_FIELDS = frozenset({"soc.truncated"})
# Kept in _source for evidence but not searchable (ECS: event.original is not indexed).
UNINDEXED_FIELDS = frozenset({"event.original"})

# Strings longer than this are stored but not indexed (Lucene's 32766-byte term limit, 4 bytes a
# character at worst). Every backend applies the same rule so results stay identical.
MAX_INDEXED_CHARS = 8191

TIMESTAMP = "@timestamp"
INGESTED = "event.ingested"
HASH = "event.hash"
DATASET = "event.dataset"
AGENCY = "organization.id"
ORIGINAL = "event.original"


TYPED_FIELDS = IP_FIELDS | LONG_FIELDS | DATE_FIELDS | BOOLEAN_FIELDS
# Every object path that leads to a typed field: a subtree outside these holds keywords only.
TYPED_PREFIXES = frozenset(
    ".".join(name.split(".")[:i]) for name in TYPED_FIELDS for i in range(1, name.count(".") + 1)
)


def _typed_tree() -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name in TYPED_FIELDS:
        parts = [name] if name == TIMESTAMP else name.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = field_type(name)
    return tree


def field_type(name: str) -> str:
    if name in UNINDEXED_FIELDS:
        return "unindexed"
    if name in IP_FIELDS:
        return "ip"
    if name in LONG_FIELDS:
        return "long"
    if name in DATE_FIELDS:
        return "date"
    if name in BOOLEAN_FIELDS:
        return "boolean"
    return "keyword"


def expand(doc: dict[str, Any]) -> dict[str, Any]:
    """Turn `{"source.ip": x}` into `{"source": {"ip": x}}`, recursively; nested input is kept.

    Returns the input object itself when it has nothing to expand (callers copy what they
    change). Raises ValueError when a path is both a value and an object (`a: 1` and `a.b: 2`).
    """
    changed = False
    out: dict[str, Any] = {}
    for key, value in doc.items():
        kind = type(value)
        if kind is dict:
            new = expand(value)
            changed = changed or new is not value
            value = new
        elif kind is list:
            new_list = [expand(v) if type(v) is dict else v for v in value]
            if any(a is not b for a, b in zip(new_list, value, strict=True)):
                changed, value = True, new_list
        if "." not in key or key == TIMESTAMP:
            if key in out:  # only after an earlier dotted key created it
                if type(out[key]) is dict and type(value) is dict:
                    out[key] = dict(out[key])
                    _merge(out[key], value, key)
                    continue
                raise ValueError(f"field '{key}' is given twice")
            out[key] = value
            continue
        changed = True
        parts = key.split(".")
        target = out
        for part in parts[:-1]:
            nxt = target.get(part)
            if nxt is None:
                nxt = {}
            elif type(nxt) is not dict:
                raise ValueError(f"field '{key}' conflicts with a value at '{part}'")
            else:
                nxt = dict(nxt)  # may be the caller's object: never write into it
            target[part] = nxt
            target = nxt
        last = parts[-1]
        if last in target and type(target[last]) is dict and type(value) is dict:
            target[last] = dict(target[last])
            _merge(target[last], value, key)
        elif last in target:
            raise ValueError(f"field '{key}' is given twice")
        else:
            target[last] = value
    return out if changed else doc


def _merge(into: dict[str, Any], other: dict[str, Any], key: str) -> None:
    # `into` may be a caller's object when an earlier plain key stored it: merge into a copy.
    for k, v in other.items():
        if k in into and isinstance(into[k], dict) and isinstance(v, dict):
            into[k] = dict(into[k])
            _merge(into[k], v, f"{key}.{k}")
        elif k in into:
            raise ValueError(f"field '{key}.{k}' is given twice")
        else:
            into[k] = v


def values(doc: Mapping[str, Any], path: str) -> list[Any]:
    """All leaf values at a dotted path, flattening arrays the way Elasticsearch does."""
    if path == TIMESTAMP:
        v = doc.get(TIMESTAMP)
        return [] if v is None else list(_leaves(v))
    current: list[Any] = [doc]
    for part in path.split("."):
        nxt: list[Any] = []
        for node in current:
            if isinstance(node, Mapping) and part in node:
                nxt.append(node[part])
            elif isinstance(node, list):
                nxt.extend(item[part] for item in node if isinstance(item, Mapping) and part in item)
        current = nxt
        if not current:
            return []
    return [v for node in current for v in _leaves(node)]


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _leaves(item)
    elif node is not None and not isinstance(node, Mapping):
        yield node


def get(doc: Mapping[str, Any], path: str) -> Any:
    """The first value at a dotted path, or None."""
    found = values(doc, path)
    return found[0] if found else None


def put(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = [path] if path == TIMESTAMP else path.split(".")
    target = doc
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def canonical(doc: Mapping[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def event_id(agency: str, doc: Mapping[str, Any]) -> str:
    doc = _without_store_fields(doc)
    return id_of(agency, identity(doc, canonical(doc)))


COLLECTOR_AGENT = "soc-collector"
"""`agent.type` of the events collectors/ ships."""


def identity(doc: Mapping[str, Any], canonical_doc: bytes) -> bytes:
    """What a document's id is computed over: its canonical form, or for an event a soc-collector
    read, the collector's `event.id` alone.

    That id already names the line (host, source identity and offset: collectors.pipeline.event_id,
    the `_id` its own engine sinks write with). The parsed content is not always the same when a
    line is read again after a crash: a line no parser understood is stamped with the time it was
    read. Agency-scoped like every id, so a collector can only ever collide with its own agency.
    """
    agent = doc.get("agent")
    if isinstance(agent, Mapping) and agent.get("type") == COLLECTOR_AGENT:
        event = doc.get("event")
        line = event.get("id") if isinstance(event, Mapping) else None
        if isinstance(line, str) and line:
            return b"collector\x00" + line.encode()
    return canonical_doc


def id_of(agency: str, canonical_doc: bytes) -> str:
    return hashlib.sha256(agency.encode() + b"\x00" + canonical_doc).hexdigest()[:40]


def _without_store_fields(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """Deterministic id: the same event from the same agency always gets the same id.

    Computed over the document without the fields the store itself sets, so a re-sent batch
    lands on the same ids.
    """
    event = doc.get("event")
    if isinstance(event, Mapping) and ("ingested" in event or "hash" in event):
        event = {k: v for k, v in event.items() if k not in ("ingested", "hash")}
        doc = {**doc, "event": event}
    return doc


_INDEX_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@lru_cache(maxsize=1024)
def dataset_slug(dataset: str | None) -> str:
    slug = _INDEX_UNSAFE.sub("_", (dataset or "generic").lower()).strip("._-")
    return slug[:80] or "generic"


def format_time(at: datetime) -> str:
    """UTC, millisecond precision (what Elasticsearch's `date` keeps), ISO 8601 with Z."""
    at = at.astimezone(UTC)
    return (
        f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}"
        f".{at.microsecond // 1000:03d}Z"
    )


def parse_time(value: Any) -> datetime:
    """Parse an ECS date (ISO 8601 string or epoch milliseconds); naive means UTC."""
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {value!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def to_millis(at: datetime) -> int:
    """Exact integer milliseconds since the epoch (no float rounding)."""
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


TYPED_TREE = _typed_tree()
"""Typed fields as a tree of objects: {"source": {"ip": "ip", "port": "long"}, ...}."""
