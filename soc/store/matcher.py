"""Query trees compiled to Python closures: the embedded store's matcher.

`compiled(query)` gives the same answer as `query.matches` for every document (the reference,
kept simple; tests/soc/detect/test_evaluate_many.py checks the two agree on every rule and case
event) without re-walking the tree per document: regexes and typed values are built once, field
values are looked up once per document through a memo shared by every rule evaluated on it, and
identical text selections (logsource scoping repeated by many rules) are tested once per document.
Values are read straight from the common shapes (objects down to one string or whole number) and
any other shape takes `indexed_values`; tests/soc/store/test_matcher.py checks the shortcuts.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from soc import ecs
from soc.errors import QueryError
from soc.store import query as query_mod
from soc.store import regex
from soc.store.query import (
    And,
    Cidr,
    Exists,
    MatchAll,
    Not,
    Or,
    Query,
    Range,
    Regex,
    Term,
    Wildcard,
    indexed_values,
    keyword,
)  # fmt: skip

Matcher = Callable[[Mapping[str, Any], dict[Any, Any]], bool]
"""A compiled query: (document, per-document memo of field values and shared results) -> matches?"""


@lru_cache(maxsize=4096)
def compiled(query: Query) -> Matcher:
    """Closures over pre-built regexes and typed values; field values are looked up once per
    document (shared through the memo by every rule evaluated on it). Call `check(query)` first."""
    match query:
        case MatchAll():
            return lambda doc, memo: True
        case And(items):
            return _all(tuple(compiled(q) for q in items))
        case Or(items):
            return _any(tuple(_merged_alternatives(items)))
        case Not(item):
            inner = compiled(item)
            return lambda doc, memo: not inner(doc, memo)
        case Term(field, value, cased) if ecs.field_type(field) == "keyword":
            return _text_matcher(field, (_escape_wildcard(keyword(value)),), cased)
        case Wildcard(field, pattern, cased):
            return _text_matcher(field, (pattern,), cased)
        case Term(field, _, _) | Wildcard(field, _, _) | Regex(field, _) | Cidr(field, _) | Range(field):
            return _any_value(field, _value_test(query))
        case Exists(field):
            return lambda doc, memo: bool(field_values(doc, memo, field))
    raise QueryError(f"unknown query node {query!r}")


def _merged_alternatives(items: tuple[Query, ...]) -> Iterator[Matcher]:
    """Or-ed wildcards and text terms on one field are tested together, value by value."""
    groups: dict[tuple[str, bool], list[str]] = {}
    networks: dict[str, list[str]] = {}
    for item in items:
        match item:
            case Wildcard(field, pattern, cased):
                groups.setdefault((field, cased), []).append(pattern)
            case Term(field, value, cased) if ecs.field_type(field) == "keyword":
                groups.setdefault((field, cased), []).append(_escape_wildcard(keyword(value)))
            case Cidr(field, network):
                networks.setdefault(field, []).append(network)
            case _:
                yield compiled(item)
    for (field, cased), patterns in groups.items():
        yield _text_matcher(field, tuple(patterns), cased)
    for field, nets in networks.items():
        yield _any_value(field, _in_networks(nets))


def _any_value(field: str, test: Callable[[Any], bool]) -> Matcher:
    return lambda doc, memo: any(map(test, field_values(doc, memo, field)))


def _escape_wildcard(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)


def _text_matcher(field: str, patterns: tuple[str, ...], cased: bool) -> Matcher:
    """Any of the wildcard `patterns` matches a value. `*x`, `x*`, `*x*` and `x` become string
    operations (on lower-cased values when both sides are ASCII, where that is exactly what
    IGNORECASE does); the rest, and non-ASCII values, take one regex alternation: `fullmatch` of
    an alternation holds exactly when one alternative matches the whole value."""
    everything = _alternation(patterns, cased)
    simple: dict[str, set[str]] = {"exact": set(), "prefix": set(), "suffix": set(), "contains": set()}
    rest = []
    for p in patterns:
        core = p.strip("*")
        if "*" in core or "?" in core or "\\" in core or not (cased or core.isascii()):
            rest.append(p)
            continue
        kind = {(False, False): "exact", (False, True): "prefix", (True, False): "suffix"}
        simple[kind.get((p.startswith("*"), p.endswith("*")), "contains")].add(
            core if cased else core.lower()
        )
    others = _alternation(tuple(rest), cased) if rest else None
    exact, prefix, suffix = frozenset(simple["exact"]), tuple(simple["prefix"]), tuple(simple["suffix"])
    # One scan for every substring (a literal alternation is found wherever one of them occurs).
    contains = re.compile("|".join(map(re.escape, sorted(simple["contains"])))).search
    some_contains = bool(simple["contains"])

    def test(v: str) -> bool:
        if not (cased or v.isascii()):
            return everything(v) is not None
        t = v if cased else v.lower()
        if t in exact or t.startswith(prefix) or t.endswith(suffix):
            return True
        if some_contains and contains(t) is not None:
            return True
        return others is not None and others(v) is not None

    token = object()  # rules share identical selections (logsource scoping): test each once per row

    def matcher(doc: Mapping[str, Any], memo: dict[Any, Any]) -> bool:
        found = memo.get(token)
        if found is None:
            found = memo[token] = any(map(test, field_values(doc, memo, field)))
        return bool(found)

    return matcher


def _alternation(patterns: tuple[str, ...], cased: bool) -> Callable[[str], re.Match[str] | None]:
    """`fullmatch` of the alternation, compiled on first use: most of them are only needed for
    non-ASCII values or for documents that passed the guards, and compiling all of a cycle's
    alternations up front costs more than evaluating them."""
    compiled: Callable[[str], re.Match[str] | None] | None = None

    def fullmatch(v: str) -> re.Match[str] | None:
        nonlocal compiled
        if compiled is None:
            flags = re.DOTALL if cased else re.DOTALL | re.IGNORECASE
            parts = (query_mod._wildcard_regex(p, cased).pattern for p in patterns)
            compiled = re.compile("|".join(f"(?:{p})" for p in parts), flags).fullmatch
        return compiled(v)

    return fullmatch


def field_values(doc: Mapping[str, Any], memo: dict[Any, Any], field: str) -> list[Any]:
    """`indexed_values(doc, field)`, read once per document (the memo is per document)."""
    found = memo.get(field)
    if found is None:
        found = memo[field] = _reader(field)(doc)
    return found


def prefetch(fields: Iterable[str]) -> Callable[[Mapping[str, Any], dict[Any, Any]], None]:
    """A function that puts the values of every field that a document has into its memo (what
    `field_values` would), walking each shared parent object once: for `auditd.log.a0` …
    `auditd.log.a7` one walk down to `auditd.log`. A field missing from the document is left out
    of the memo (its values are none)."""
    groups: dict[tuple[str, ...], list[tuple[str, str, type, Callable[[Any], list[Any]]]]] = {}
    other: list[str] = []
    for field in sorted(set(fields)):
        leaf = _LEAVES.get(ecs.field_type(field))
        if leaf is None or field == ecs.TIMESTAMP:
            other.append(field)
            continue
        *parents, name = field.split(".")
        groups.setdefault(tuple(parents), []).append((name, field, *leaf))
    plan = tuple(groups.items())

    def fill(doc: Mapping[str, Any], memo: dict[Any, Any]) -> None:
        for parents, leaves in plan:
            node: Any = doc
            for part in parents:
                if type(node) is not dict:
                    break
                node = node.get(part)
                if node is None:  # missing or null: none of these fields has a value
                    break
            if node is None:
                continue
            if type(node) is not dict:  # an array or a scalar on the way: the general path
                for _, field, _, _ in leaves:
                    memo[field] = indexed_values(doc, field)
                continue
            for name, field, wanted, convert in leaves:
                raw = node.get(name)
                if raw is None:
                    continue
                memo[field] = convert(raw) if type(raw) is wanted else indexed_values(doc, field)
        for field in other:
            memo[field] = indexed_values(doc, field)

    return fill


def values(doc: Mapping[str, Any], field: str) -> list[Any]:
    """`indexed_values(doc, field)`, faster for the common shapes of a document."""
    return _reader(field)(doc)


@lru_cache(maxsize=4096)
def _reader(field: str) -> Callable[[Mapping[str, Any]], list[Any]]:
    """`indexed_values` for one field. The common shape (objects down to one string, or one whole
    number for a number field) is read directly; any other shape (arrays, a number written as
    text, booleans) takes the general path."""
    kind = ecs.field_type(field)
    leaf = _LEAVES.get(kind)
    if leaf is None or field == ecs.TIMESTAMP:
        return lambda doc: indexed_values(doc, field)
    parts = tuple(field.split("."))
    wanted, convert = leaf

    def read(doc: Mapping[str, Any]) -> list[Any]:
        node: Any = doc
        for part in parts:
            if type(node) is not dict:
                return indexed_values(doc, field)
            node = node.get(part)
            if node is None:  # missing or null: no value, as in ecs.values
                return []
        if type(node) is not wanted:
            return indexed_values(doc, field)
        return convert(node)

    return read


def group_keys(doc: Mapping[str, Any], field: str) -> set[Any]:
    """`{group_key(v) for v in values(doc, field)}`: the bucket keys an engine's terms aggregation
    gives the event. A plain string of a keyword field, or canonical IPv4 text of an ip field, is
    its own key (not parsed only to be printed again)."""
    kind = ecs.field_type(field)
    if kind == "keyword" or kind == "ip":
        node: Any = doc
        for part in _parts(field):
            node = node.get(part) if type(node) is dict else None
        if type(node) is str:
            if kind == "keyword" and len(node) <= ecs.MAX_INDEXED_CHARS:
                return {node}
            if kind == "ip" and query_mod.canonical_ipv4(node):
                return {node}
    return {query_mod.group_key(v) for v in values(doc, field)}


@lru_cache(maxsize=4096)
def _parts(field: str) -> tuple[str, ...]:
    return tuple(field.split("."))


def _keyword_leaf(text: str) -> list[Any]:
    return [text] if len(text) <= ecs.MAX_INDEXED_CHARS else []


_ip_address = lru_cache(maxsize=65536)(ipaddress.ip_address)
"""Addresses repeat across events (the same hosts and clients); parsed objects are immutable."""

_LEAVES: dict[str, tuple[type, Callable[[Any], list[Any]]]] = {
    "keyword": (str, _keyword_leaf),
    "long": (int, lambda n: [n]),
    "ip": (str, lambda text: [_ip_address(text)]),
}
"""Per field type: the JSON type of a plain value and its indexed values (as `indexed_values`)."""


def _all(parts: tuple[Matcher, ...]) -> Matcher:
    if len(parts) == 1:
        return parts[0]

    def every(doc: Mapping[str, Any], memo: dict[Any, Any]) -> bool:
        for part in parts:  # noqa: SIM110 - a plain loop, no generator per row and rule
            if not part(doc, memo):
                return False
        return True

    return every


def _any(parts: tuple[Matcher, ...]) -> Matcher:
    if len(parts) == 1:
        return parts[0]

    def some(doc: Mapping[str, Any], memo: dict[Any, Any]) -> bool:
        for part in parts:  # noqa: SIM110 - a plain loop, no generator per row and rule
            if part(doc, memo):
                return True
        return False

    return some


def _in_networks(networks: list[str]) -> Callable[[Any], bool]:
    """Is an address in one of the networks (`query._in_network`, as integer ranges: an address
    is in a network of its version when it lies between the network and broadcast addresses)."""
    nets = [query_mod._network(n) for n in networks]
    ranges = [(n.version, int(n.network_address), int(n.broadcast_address)) for n in nets]

    def test(addr: Any) -> bool:
        version, number = addr.version, int(addr)
        for net_version, low, high in ranges:
            if net_version == version and low <= number <= high:
                return True
        if version == 6 and any(n.version == 4 for n in nets):
            return any(query_mod._in_network(addr, n) for n in nets if n.version == 4)
        return False

    return test


def _value_test(query: Query) -> Callable[[Any], bool]:
    match query:
        case Term(field, value, _):
            kind = ecs.field_type(field)
            target: Any
            if kind == "ip":
                target = query_mod._ip(value, field)
            elif kind == "long":
                target = query_mod._as_int(value)
            elif kind == "date":
                target = query_mod._date_millis(value, field)
            else:
                target = value in (True, "true")
            return lambda v: bool(v == target)
        case Wildcard(_, pattern, cased):
            full = query_mod._wildcard_regex(pattern, cased).fullmatch
            return lambda v: full(v) is not None
        case Regex(_, pattern):
            search = regex.compiled(pattern).search
            return lambda v: search(v) is not None
        case Cidr(_, network):
            return _in_networks([network])
        case Range(field, gte, gt, lte, lt):
            kind = ecs.field_type(field)
            given = ((operator.ge, gte), (operator.gt, gt), (operator.le, lte), (operator.lt, lt))
            bounds = tuple((op, query_mod._range_value(kind, b, field)) for op, b in given if b is not None)
            if len(bounds) == 1:
                ((op, bound),) = bounds
                return lambda v: bool(op(v, bound))
            return lambda v: all(op(v, b) for op, b in bounds)
    raise QueryError(f"unknown query node {query!r}")
