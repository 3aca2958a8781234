"""A backend-neutral query: the few node types Sigma needs, with one meaning on every backend.

Each backend compiles the same tree: `soc.store.dsl` to Elasticsearch/OpenSearch JSON, and
`matches()` below evaluates it in Python for the embedded SQLite store. Semantics follow a keyword
field in Elasticsearch: matching is on the whole value, arrays match when any element does, strings
longer than `ecs.MAX_INDEXED_CHARS` are stored but not searchable, and text matching is
case-insensitive unless `cased` is set.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from soc import ecs
from soc.errors import QueryError
from soc.store import regex


@dataclass(frozen=True)
class Term:
    field: str
    value: str | int | bool
    cased: bool = False


@dataclass(frozen=True)
class Wildcard:
    """`*` any run of characters, `?` one character, `\\` escapes the next character."""

    field: str
    pattern: str
    cased: bool = False


@dataclass(frozen=True)
class Regex:
    """`re.search(pattern, value, re.ASCII)` on a text field: a substring search unless anchored.

    Flags go inline (`(?i)`); see `soc.store.regex` for what the engines can run exactly.
    """

    field: str
    pattern: str


@dataclass(frozen=True)
class Cidr:
    field: str
    network: str


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class Range:
    field: str
    gte: int | str | None = None
    gt: int | str | None = None
    lte: int | str | None = None
    lt: int | str | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Query, ...]


@dataclass(frozen=True)
class Not:
    item: Query


@dataclass(frozen=True)
class MatchAll:
    pass


Query = Term | Wildcard | Regex | Cidr | Exists | Range | And | Or | Not | MatchAll


def check(query: Query) -> None:
    """Refuse, on every backend alike, a query that cannot mean the same thing everywhere."""
    match query:
        case Term(field, value):
            kind = ecs.field_type(field)
            if kind == "unindexed":
                raise QueryError(f"{field} is stored but not searchable")
            if kind == "ip":
                if not canonical_ipv4(value):
                    _ip(value, field)
            elif kind == "long" and _as_int(value) is None:
                raise QueryError(f"{field} is a number field; {value!r} is not a whole number")
            elif kind == "date":
                _date_millis(value, field)
        case Wildcard(field, _):
            if ecs.field_type(field) != "keyword":
                raise QueryError(f"wildcard needs a text field; {field} is {ecs.field_type(field)}")
        case Regex(field, pattern):
            if ecs.field_type(field) != "keyword":
                raise QueryError(f"regex needs a text field; {field} is {ecs.field_type(field)}")
            try:
                regex.to_lucene(pattern)
            except regex.Untranslatable as exc:
                raise QueryError(f"regex {pattern!r} cannot run the same on every backend: {exc}") from None
        case Cidr(field, network):
            if ecs.field_type(field) != "ip":
                raise QueryError(f"cidr needs an IP field; {field} is {ecs.field_type(field)}")
            _network(network)
        case Range(field, gte, gt, lte, lt):
            kind = ecs.field_type(field)
            if kind not in ("long", "date"):
                raise QueryError(f"range needs a number or date field; {field} is {kind}")
            for bound in (gte, gt, lte, lt):
                if bound is not None:
                    _range_value(kind, bound, field)
        case And(items) | Or(items):
            for item in items:
                check(item)
        case Not(item):
            check(item)
        case Exists(field):
            if ecs.field_type(field) == "unindexed":
                raise QueryError(f"{field} is stored but not searchable")
        case MatchAll():
            pass


def matches(doc: Mapping[str, Any], query: Query) -> bool:
    """Evaluate `query` against one normalised document (the SQLite store's matcher)."""
    match query:
        case MatchAll():
            return True
        case And(items):
            return all(matches(doc, q) for q in items)
        case Or(items):
            return any(matches(doc, q) for q in items)
        case Not(item):
            return not matches(doc, item)
        case Exists(field):
            return bool(indexed_values(doc, field))
        case Term(field, value, cased):
            return _term(indexed_values(doc, field), ecs.field_type(field), value, cased)
        case Wildcard(field, pattern, cased):
            rx = _wildcard_regex(pattern, cased)
            return any(rx.fullmatch(v) for v in indexed_values(doc, field))
        case Regex(field, pattern):
            rx = regex.compiled(pattern)
            return any(rx.search(v) for v in indexed_values(doc, field))
        case Cidr(field, network):
            net = _network(network)
            return any(_in_network(v, net) for v in indexed_values(doc, field))
        case Range(field, gte, gt, lte, lt):
            kind = ecs.field_type(field)
            return any(_in_range(v, kind, field, gte, gt, lte, lt) for v in indexed_values(doc, field))
    raise QueryError(f"unknown query node {query!r}")


def indexed_values(doc: Mapping[str, Any], field: str) -> list[Any]:
    """The values a search engine would have indexed for `field`, in its type."""
    kind = ecs.field_type(field)
    out: list[Any] = []
    for raw in ecs.values(doc, field):
        if kind == "keyword":
            text = keyword(raw)
            if len(text) <= ecs.MAX_INDEXED_CHARS:
                out.append(text)
        elif kind == "ip":
            out.append(ipaddress.ip_address(raw))
        elif kind == "long":
            out.append(_as_int(raw))
        elif kind == "date":
            out.append(_date_millis(raw, field))
        elif kind == "boolean":
            out.append(raw in (True, "true"))
    return out


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def canonical_ipv4(text: Any) -> bool:
    """Is `text` an IPv4 address written as the engines print it (`str(ip_address(text))`)?
    A regex answers ~10x faster than parsing, and most addresses in logs are such."""
    return type(text) is str and _CANONICAL_IPV4.fullmatch(text) is not None


def group_key(value: Any) -> Any:
    """Bucket keys as the engines return them: IPs as text, numbers and dates as integers."""
    return str(value) if not isinstance(value, str | int | bool) else value


def keyword(raw: Any) -> str:
    """How a search engine's keyword field renders a JSON scalar."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def _term(found: list[Any], kind: str, value: Any, cased: bool) -> bool:
    if kind == "keyword":
        want = keyword(value)
        if cased:
            return want in found
        rx = _literal_regex(want)
        return any(rx.fullmatch(v) for v in found)
    if kind == "ip":
        return _ip(value, "") in found
    if kind == "long":
        return _as_int(value) in found
    if kind == "date":
        return _date_millis(value, "") in found
    return (value in (True, "true")) in found


@lru_cache(maxsize=4096)
def _literal_regex(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, cased: bool) -> re.Pattern[str]:
    parts: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    flags = re.DOTALL if cased else re.DOTALL | re.IGNORECASE
    return re.compile("".join(parts), flags)


def _ip(value: Any, field: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise QueryError(f"{field or 'value'}: {value!r} is not an IP address") from None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise QueryError(f"{text!r} is not a CIDR network") from None


def _in_network(addr: Any, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if addr.version != net.version:
        mapped = getattr(addr, "ipv4_mapped", None)
        return mapped is not None and mapped in net
    return bool(addr in net)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _date_millis(value: Any, field: str) -> int:
    try:
        return ecs.to_millis(ecs.parse_time(value))
    except ValueError as exc:
        raise QueryError(f"{field or 'value'}: {exc}") from None


def _range_value(kind: str, value: Any, field: str) -> int:
    if kind == "date":
        return _date_millis(value, field)
    number = _as_int(value)
    if number is None:
        raise QueryError(f"{field}: range bound {value!r} is not a whole number")
    return number


def _in_range(v: Any, kind: str, field: str, gte: Any, gt: Any, lte: Any, lt: Any) -> bool:
    if gte is not None and not v >= _range_value(kind, gte, field):
        return False
    if gt is not None and not v > _range_value(kind, gt, field):
        return False
    if lte is not None and not v <= _range_value(kind, lte, field):
        return False
    return not (lt is not None and not v < _range_value(kind, lt, field))
