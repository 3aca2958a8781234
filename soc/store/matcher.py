"""Query trees compiled to Python closures: the embedded store's matcher.

`compiled(query)` gives the same answer as `query.matches` for every document (the reference,
kept simple; tests/soc/detect/test_evaluate_many.py checks the two agree on every rule and case
event) without re-walking the tree per document: regexes and typed values are built once, field
values are looked up once per document through a memo shared by every rule evaluated on it, and
identical text selections (logsource scoping repeated by many rules) are tested once per document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
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
            test = _value_test(query)
            return lambda doc, memo: any(map(test, _values(doc, memo, field)))
        case Exists(field):
            return lambda doc, memo: bool(_values(doc, memo, field))
    raise QueryError(f"unknown query node {query!r}")


def _merged_alternatives(items: tuple[Query, ...]) -> Iterator[Matcher]:
    """Or-ed wildcards and text terms on one field are tested together, value by value."""
    groups: dict[tuple[str, bool], list[str]] = {}
    for item in items:
        match item:
            case Wildcard(field, pattern, cased):
                groups.setdefault((field, cased), []).append(pattern)
            case Term(field, value, cased) if ecs.field_type(field) == "keyword":
                groups.setdefault((field, cased), []).append(_escape_wildcard(keyword(value)))
            case _:
                yield compiled(item)
    for (field, cased), patterns in groups.items():
        yield _text_matcher(field, tuple(patterns), cased)


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
    exact, contains = frozenset(simple["exact"]), tuple(simple["contains"])
    prefix, suffix = tuple(simple["prefix"]), tuple(simple["suffix"])

    def test(v: str) -> bool:
        if not (cased or v.isascii()):
            return everything(v) is not None
        t = v if cased else v.lower()
        if t in exact or t.startswith(prefix) or t.endswith(suffix) or any(c in t for c in contains):
            return True
        return others is not None and others(v) is not None

    token = object()  # rules share identical selections (logsource scoping): test each once per row

    def matcher(doc: Mapping[str, Any], memo: dict[Any, Any]) -> bool:
        found = memo.get(token)
        if found is None:
            found = memo[token] = any(map(test, _values(doc, memo, field)))
        return bool(found)

    return matcher


def _alternation(patterns: tuple[str, ...], cased: bool) -> Callable[[str], re.Match[str] | None]:
    flags = re.DOTALL if cased else re.DOTALL | re.IGNORECASE
    parts = (query_mod._wildcard_regex(p, cased).pattern for p in patterns)
    return re.compile("|".join(f"(?:{p})" for p in parts), flags).fullmatch


def _values(doc: Mapping[str, Any], memo: dict[Any, Any], field: str) -> list[Any]:
    found = memo.get(field)
    if found is None:
        found = memo[field] = indexed_values(doc, field)
    return found


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
            net = query_mod._network(network)
            return lambda v: query_mod._in_network(v, net)
        case Range(field, gte, gt, lte, lt):
            kind = ecs.field_type(field)
            return lambda v: query_mod._in_range(v, kind, field, gte, gt, lte, lt)
    raise QueryError(f"unknown query node {query!r}")


Guard = tuple[tuple[str, str, frozenset[str]], ...]
"""Alternatives (field, kind, keys): a query can only match a document having, for one of them, a
value of `field` whose key is in `keys`. Kind `exact`: the lower-cased value; kind `name`: what
follows its last `/`."""

CATEGORICAL = frozenset(
    {
        "event.category", "event.type", "event.action", "event.outcome", "event.module", "event.kind",
        "auditd.log.record_type", "auditd.message_type", "network.transport", "network.protocol",
        "http.request.method", "dns.question.type", "log.level",
    }
)  # fmt: skip
"""Fields most documents of a dataset share a few values of: weak guards, used only when no other."""


def guard(query: Query) -> Guard | None:
    """A necessary condition of `query` that dict lookups can test, or None.

    Sound for ASCII values only: case-insensitive matching folds some non-ASCII letters onto ASCII
    ones (the Kelvin sign onto `k`), so a document with another value of the field must be tested.
    """
    match query:
        case And(items):
            options = [g for g in map(guard, items) if g is not None]
            return max(options, key=_strength, default=None)
        case Or(items):
            parts = [guard(q) for q in items]
            if not parts or any(g is None for g in parts):
                return None
            merged: dict[tuple[str, str], set[str]] = {}
            for alternatives in parts:
                for field, kind, keys in alternatives or ():
                    merged.setdefault((field, kind), set()).update(keys)
            return tuple((f, k, frozenset(keys)) for (f, k), keys in sorted(merged.items()))
        case Term(field, value, _) if ecs.field_type(field) == "keyword" and _stored(field):
            text = keyword(value)
            return ((field, "exact", frozenset({text.lower()})),) if text.isascii() else None
        case Wildcard(field, pattern, _) if _stored(field) and pattern.isascii():
            name = pattern[2:]
            if pattern.startswith("*/") and name and not any(c in name for c in "*?\\/"):
                return ((field, "name", frozenset({name.lower()})),)
            if not any(c in pattern for c in "*?\\"):
                return ((field, "exact", frozenset({pattern.lower()})),)
    return None


def _stored(field: str) -> bool:
    """Fields the documents hold as written (the store adds event.hash/event.ingested on reading)."""
    return field not in (ecs.HASH, ecs.INGESTED)


def _strength(g: Guard) -> tuple[bool, bool, int]:
    return (
        all(kind == "name" for _, kind, _ in g),
        not any(field in CATEGORICAL for field, _, _ in g),
        -sum(len(keys) for _, _, keys in g),
    )


class Router:
    """Which of a dataset's queries a document can match: the unguarded ones, plus those whose
    guard key one of its values has (a dict lookup per value instead of a call per query)."""

    def __init__(self, queries: list[tuple[int, Guard | None]]) -> None:
        self.empty = not queries
        self.always = [i for i, g in queries if g is None]
        self.indexes: dict[tuple[str, str], dict[str, list[int]]] = {}
        self.guarded: dict[tuple[str, str], list[int]] = {}
        for i, g in queries:
            for field, kind, keys in g or ():
                index = self.indexes.setdefault((field, kind), {})
                for key in keys:
                    index.setdefault(key, []).append(i)
                self.guarded.setdefault((field, kind), []).append(i)

    def candidates(self, doc: Mapping[str, Any], memo: dict[Any, Any]) -> list[int]:
        found: set[int] = set()
        for (field, kind), index in self.indexes.items():
            values = _values(doc, memo, field)
            if not values:
                continue
            if not all(v.isascii() for v in values):
                found.update(self.guarded[(field, kind)])
                continue
            for v in values:
                key = v.lower()
                hit = index.get(key if kind == "exact" else key.rpartition("/")[2])
                if hit is not None:
                    found.update(hit)
        return [*self.always, *found]
