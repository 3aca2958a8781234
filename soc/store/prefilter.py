"""Which queries a document can match, found with lookups instead of a call per query.

A *guard* is a necessary condition of a query: a value one of its fields must have (exact, or the
name after the last `/`) or a piece of text it must contain. The embedded store's batch pass
routes each document to the queries whose guard it meets (`Router`), and only those are evaluated:
for a dataset read by 200 rules, most documents meet the guards of a handful. Exact and name keys
are looked up in a dict per field; substring keys of every query are found in one pass over each
value by an Aho-Corasick automaton per field.

Guards are sound for ASCII values only: case-insensitive matching folds some non-ASCII letters
onto ASCII ones (the Kelvin sign onto `k`), so a document with another value of a guarded field is
handed to every query guarded on that field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from re import _constants as C  # type: ignore[attr-defined,unused-ignore]
from re import _parser as sre_parse  # type: ignore[attr-defined,unused-ignore]
from typing import Any, NamedTuple, Protocol, cast

import ahocorasick  # type: ignore[import-not-found]  # a C extension without stubs

from soc import ecs
from soc.store import regex
from soc.store.matcher import prefetch
from soc.store.query import And, Or, Query, Regex, Term, Wildcard, keyword

Guard = tuple[tuple[str, str, frozenset[str]], ...]
"""Alternatives (field, kind, keys): a query can only match a document having, for one of them, a
value of `field` whose key is in `keys`. Kind `exact`: the lower-cased value is a key; kind `name`:
what follows its last `/` is; kind `substr`: the lower-cased value contains a key."""

CATEGORICAL = frozenset(
    {
        "event.category", "event.type", "event.action", "event.outcome", "event.module", "event.kind",
        "auditd.log.record_type", "auditd.message_type", "network.transport", "network.protocol",
        "http.request.method", "dns.question.type", "log.level",
    }
)  # fmt: skip
"""Fields most documents of a dataset share a few values of: weak guards, used only when no other."""

SHORT = 3
"""Substring keys shorter than this are in most values (`/`, `; `): a weak guard."""

LONG = 8
"""Past this many characters a key's length says little more about how rare it is."""


def guard(query: Query) -> Guard | None:
    """A necessary condition of `query` that lookups can test, or None."""
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
            piece = max(literal_pieces(pattern), key=len, default="")
            return ((field, "substr", frozenset({piece.lower()})),) if piece else None
        case Regex(field, pattern) if _stored(field):
            needed = regex_keys(pattern)
            return ((field, "substr", needed),) if needed else None
    return None


def literal_pieces(pattern: str) -> Iterator[str]:
    """The runs of literal text between the `*` and `?` of a wildcard pattern (escapes resolved):
    every value the pattern matches contains each of them."""
    piece: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch in "*?":
            yield "".join(piece)
            piece = []
        else:
            piece.append(next(chars, "\\") if ch == "\\" else ch)
    yield "".join(piece)


def regex_keys(pattern: str) -> frozenset[str] | None:
    """Lower-cased texts, one of which every value the regex finds a match in contains, or None.

    Read from Python's own parse of the pattern: a run of literal characters must appear as it is
    (up to case), a group or a repetition of at least once needs what its content needs, and an
    alternation needs one of what its branches need. Optional parts, classes and lookarounds
    need nothing; of what a sequence needs, the most selective set is kept."""
    try:
        parsed = sre_parse.parse(pattern, regex.FLAGS)
    except re.error:
        return None
    return _needed(list(parsed))


def _needed(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    options: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in [*items, (None, None)]:  # the sentinel closes the last run
        if op is C.LITERAL and av < 128:
            run.append(chr(av))
            continue
        if run:
            options.append(frozenset({"".join(run).lower()}))
            run = []
        inner: frozenset[str] | None = None
        if op is C.SUBPATTERN:
            inner = _needed(list(av[3]))
        elif op is C.BRANCH:
            branches = [_needed(list(b)) for b in av[1]]
            if all(branches):
                inner = frozenset().union(*branches)  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
            inner = _needed(list(av[2]))
        if inner:
            options.append(inner)
    return max(options, key=_selectivity, default=None)


def _selectivity(keys: frozenset[str]) -> tuple[bool, int, int]:
    shortest = min(map(len, keys))
    return (shortest >= SHORT, shortest, -len(keys))


def _stored(field: str) -> bool:
    """Fields the documents hold as written (the store adds event.hash/event.ingested on reading)."""
    return field not in (ecs.HASH, ecs.INGESTED)


def _strength(g: Guard) -> tuple[bool, bool, int, int]:
    """Prefer guards few documents meet: not on a categorical field nor a very short substring,
    then a file name, then longer keys (`accepted ` over the `sshd` every auth line has; past
    `LONG` characters length says little), then fewer keys."""
    shortest = min((len(k) for _, _, keys in g for k in keys), default=0)
    weak = any(field in CATEGORICAL for field, _, _ in g) or (
        shortest < SHORT and any(kind == "substr" for _, kind, _ in g)
    )
    return (
        not weak,
        all(kind == "name" for _, kind, _ in g),
        min(shortest, LONG),
        -sum(len(keys) for _, _, keys in g),
    )


class _Automaton(Protocol):
    def iter(self, text: str) -> Iterable[tuple[int, tuple[int, ...]]]: ...


def _automaton(keys: Mapping[str, list[int]]) -> _Automaton:
    found = ahocorasick.Automaton()
    for key, queries in keys.items():
        found.add_word(key, tuple(queries))
    found.make_automaton()
    return cast(_Automaton, found)


class _Field(NamedTuple):
    """Every guard key of one field, by kind, and the queries guarded on it."""

    name: str
    exact: dict[str, list[int]]
    by_name: dict[str, list[int]]
    automaton: _Automaton | None
    guarded: frozenset[int]


class Router:
    """Which of a dataset's queries a document can match: the unguarded ones, plus those whose
    guard one of its values meets. Each guarded field is read once per document."""

    def __init__(self, queries: list[tuple[int, Guard | None]]) -> None:
        self.empty = not queries
        self.always = [i for i, g in queries if g is None]
        keys: dict[str, dict[str, dict[str, list[int]]]] = {}
        for i, g in queries:
            for field, kind, wanted in g or ():
                index = keys.setdefault(field, {}).setdefault(kind, {})
                for key in wanted:
                    index.setdefault(key, []).append(i)
        self.fields = [
            _Field(
                field,
                by_kind.get("exact", {}),
                by_kind.get("name", {}),
                _automaton(by_kind["substr"]) if by_kind.get("substr") else None,
                frozenset(i for index in by_kind.values() for found in index.values() for i in found),
            )
            for field, by_kind in sorted(keys.items())
        ]
        self.fill = prefetch(keys)

    def candidates(self, doc: Mapping[str, Any], memo: dict[Any, Any]) -> list[int]:
        found: set[int] = set()
        self.fill(doc, memo)
        for field, exact, by_name, automaton, guarded in self.fields:
            for v in memo.get(field, ()):
                if not v.isascii():
                    found.update(guarded)
                    break
                key = v.lower()
                if exact:
                    hit = exact.get(key)
                    if hit is not None:
                        found.update(hit)
                if by_name:
                    hit = by_name.get(key.rpartition("/")[2])
                    if hit is not None:
                        found.update(hit)
                if automaton is not None:
                    for _, queries in automaton.iter(key):
                        found.update(queries)
        return [*self.always, *found]
