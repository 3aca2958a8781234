"""Turn incoming documents into what every backend stores: one place, so backends agree.

Normalises dotted keys to objects, sets `organization.id`, `event.hash` (the deterministic id)
and `event.ingested`, checks typed fields, and picks the index from `@timestamp` (by the period of
periods.py). A document that fails is returned as a rejection with a reason, never raised: one bad
event must not sink its batch.
"""

from __future__ import annotations

import gc
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from soc import ecs
from soc.store import periods
from soc.store.query import _as_int


@dataclass(slots=True)  # not frozen: frozen dataclasses cost ~2 µs per instance on the hot path
class Prepared:
    id: str
    index: str
    slug: str
    day: str
    dataset: str | None
    timestamp_ms: int
    ingested_ms: int
    doc: dict[str, Any]
    canonical: bytes
    """The document as hashed: sorted keys, without event.hash and event.ingested."""


@dataclass(frozen=True)
class Rejected:
    reason: str
    original: Any


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is prepared.

    Prepared documents are plain acyclic JSON, so the collector finds nothing; yet with a batch of
    thousands of fresh dicts alive it runs often and costs ~20% of ingest time (measured with
    bench/store_ingest.py). Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_AGENCY_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def agency_part(agency: str) -> str:
    """The agency as it appears in index names: never a '.', so the first '.' ends it."""
    return _AGENCY_UNSAFE.sub("_", agency.lower())[:64] or "_"


def index_name(prefix: str, agency: str, slug: str, part: str) -> str:
    """`soc-events-<agency>.<dataset>-<period>` (period: `2026.11.28`, `2026.w48` or `2026.11`):
    an agency's own indices, so an engine role can grant `soc-events-<agency>.*` and nothing of
    another agency (agency codes hold no '.'; with '-' as the separator, agency `so`'s pattern
    would also cover agency `so-a`)."""
    return f"{prefix}-events-{agency_part(agency)}.{slug}-{part}"


def prepare(raw: Mapping[str, Any], *, agency: str, ingested: datetime, prefix: str) -> Prepared | Rejected:
    return Batch(agency=agency, ingested=ingested, prefix=prefix).prepare(raw)


# @timestamp is parsed (and so checked) once by _prepare itself.
_CHECKED = {k: v for k, v in ecs.TYPED_TREE.items() if k != ecs.TIMESTAMP}


class Batch:
    """What documents written together share: agency, ingest time (formatted once), prefix."""

    def __init__(
        self, *, agency: str, ingested: datetime, prefix: str, period: Callable[[str], str] | None = None
    ) -> None:
        self.agency = agency
        self.prefix = prefix
        self.period = period
        """dataset slug -> `day`, `week` or `month` (soc.store.periods); None: daily indices."""
        self.ingested_at = ingested
        self.ingested = ecs.format_time(ingested)
        self.ingested_ms = ecs.to_millis(ingested)

    def prepare(self, raw: Mapping[str, Any]) -> Prepared | Rejected:
        return _prepare(raw, self)


def _prepare(raw: Mapping[str, Any], batch: Batch) -> Prepared | Rejected:
    agency = batch.agency
    if type(raw) is not dict:
        if not isinstance(raw, Mapping):
            return Rejected("an event must be a JSON object", raw)
        raw = dict(raw)
    try:
        doc = ecs.expand(raw) if _has_dotted_key(raw) else dict(raw)  # the caller's object is kept
    except ValueError as exc:
        return Rejected(str(exc), raw)
    org = doc.get("organization")
    doc["organization"] = {**org, "id": agency} if isinstance(org, dict) else {"id": agency}
    event = doc.get("event")
    if event is not None and not isinstance(event, dict):
        return Rejected("field 'event' must be an object", raw)
    event = dict(event or {})
    event.pop("ingested", None)
    event.pop("hash", None)
    doc["event"] = event
    problem = _check_types(doc, _CHECKED, "")
    if problem:
        return Rejected(problem, raw)
    if ecs.TIMESTAMP not in doc:
        return Rejected("missing @timestamp", raw)
    try:
        at = ecs.parse_time(doc[ecs.TIMESTAMP])
    except ValueError as exc:
        return Rejected(f"@timestamp: {exc}", raw)
    dataset = event.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        return Rejected("event.dataset must be a string", raw)
    body = ecs.canonical(doc)  # before the store's own fields: what the id is computed over
    doc_id = ecs.id_of(agency, ecs.identity(doc, body))
    event["hash"] = doc_id
    event["ingested"] = batch.ingested
    slug = ecs.dataset_slug(dataset)
    day = f"{at.year:04d}.{at.month:02d}.{at.day:02d}"
    period = batch.period(slug) if batch.period is not None else "day"
    part = day if period == "day" else periods.suffix(period, at.year, at.month, at.day)
    return Prepared(
        id=doc_id,
        index=index_name(batch.prefix, agency, slug, part),
        slug=slug,
        day=day,
        dataset=dataset,
        timestamp_ms=ecs.to_millis(at),
        ingested_ms=batch.ingested_ms,
        doc=doc,
        canonical=body,
    )


_DOTTED_KEY = re.compile(rb'[.](?:[^"\\]|\\.)*":')


def _has_dotted_key(doc: dict[str, Any]) -> bool:
    """Whether any key (at any depth) contains a dot, found by a C-speed scan of the JSON text.

    In JSON text only a key's closing quote is followed by a colon, and the pattern cannot cross
    a string boundary (escapes are consumed in pairs), so this finds exactly the dotted keys.
    """
    try:
        return _DOTTED_KEY.search(orjson.dumps(doc)) is not None
    except TypeError:
        return True


def _check_types(node: Mapping[str, Any], tree: Mapping[str, Any], path: str) -> str | None:
    """Check only the typed fields: look up each typed name (a dozen) rather than walk the document."""
    for key, sub in tree.items():
        value = node.get(key)
        if value is None:
            continue
        if type(sub) is str:
            problem = _check_values(f"{path}{key}", sub, value)
        elif type(value) is dict:
            problem = _check_types(value, sub, f"{path}{key}.")
        elif isinstance(value, list):
            problem = next(
                (p for v in value if type(v) is dict if (p := _check_types(v, sub, f"{path}{key}."))),
                None,
            )
        else:
            problem = None  # a scalar where the schema has an object: the engine keeps it as is
        if problem:
            return problem
    return None


def _check_values(name: str, kind: str, value: Any) -> str | None:
    for v in value if type(value) is list else (value,):
        if type(v) is list:
            problem = _check_values(name, kind, v)
        elif type(v) is dict:
            problem = f"{name}: expected a value, got an object"
        else:
            problem = _check_leaf(name, kind, v)
        if problem:
            return problem
    return None


def _check_leaf(name: str, kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if kind == "ip":
        if not _is_ip(value):
            return f"{name}: {value!r} is not an IP address"
    elif kind == "long":
        number = _as_int(value)
        if number is None or not -(2**63) <= number < 2**63:
            return f"{name}: {value!r} is not a whole number (64-bit)"
    elif kind == "date":
        try:
            ecs.parse_time(value)
        except ValueError as exc:
            return f"{name}: {exc}"
    elif kind == "boolean" and value not in (True, False, "true", "false"):
        return f"{name}: {value!r} is not true or false"
    return None


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    # inet_pton is C and strict (no zone ids, no leading zeros), close to what the engines accept.
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, value)
            return True
        except OSError:
            continue
    return False
