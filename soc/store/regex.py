"""Python `re.search` regexes as Lucene regexps with the same meaning on a keyword value.

The meaning of a `Regex` query is `re.search(pattern, value, re.ASCII)`: a substring search, with
`\\d \\w \\s` and case folding over ASCII only (what PCRE, and so Sigma, means by default). Lucene
matches the whole value and has no anchors, no lookaround, no `\\b`, no lazy/greedy distinction and
a `.` that also matches a newline, so the pattern is parsed (with Python's own parser) and
rewritten: unanchored ends become `.*`, `$` becomes an optional final newline, `.` becomes
`[^\\n]`, classes are spelled out and case-insensitivity is written as `[aA]`. What has no exact
Lucene equivalent (lookaround, back-references, word boundaries, anchors inside repetitions,
multi-line anchors) is refused with a reason, on every backend alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Python's own regex parser (3.11+; the old sre_parse name is deprecated): one grammar, no drift.
from re import _constants as C  # type: ignore[attr-defined,unused-ignore]
from re import _parser as sre_parse  # type: ignore[attr-defined,unused-ignore]
from typing import Any

FLAGS = re.ASCII


class Untranslatable(ValueError):
    """The regex has no exact Lucene equivalent; the message says which construct."""


@dataclass(frozen=True)
class _Part:
    start: bool  # anchored at the start of the value
    end: bool  # anchored at the end of the value
    text: str


@lru_cache(maxsize=2048)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, FLAGS)


@lru_cache(maxsize=2048)
def to_lucene(pattern: str) -> str:
    """The Lucene regexp matching exactly the values `re.search(pattern, value)` matches."""
    try:
        parsed = sre_parse.parse(pattern, FLAGS)
    except re.error as exc:
        raise Untranslatable(f"invalid regex: {exc}") from None
    flags = parsed.state.flags
    if flags & re.MULTILINE and _has_anchor(parsed):
        raise Untranslatable("multi-line anchors (^/$ with the m flag)")
    parts = _seq(list(parsed), flags)
    out = []
    for p in parts:
        head = "" if p.start else ".*"
        tail = "\n?" if p.end else ".*"
        out.append(head + p.text + tail)
    return out[0] if len(out) == 1 else "|".join(f"({t})" for t in out)


def _has_anchor(items: Any) -> bool:
    for op, av in items:
        if op is C.AT and av in (C.AT_BEGINNING, C.AT_END):
            return True
        if op is C.SUBPATTERN and _has_anchor(av[3]):
            return True
        if op is C.BRANCH and any(_has_anchor(b) for b in av[1]):
            return True
        if op in (C.MAX_REPEAT, C.MIN_REPEAT) and _has_anchor(av[2]):
            return True
    return False


def _seq(items: list[tuple[Any, Any]], flags: int) -> list[_Part]:
    acc = [_Part(False, False, "")]
    for op, av in items:
        nxt = _node(op, av, flags)
        acc = _merge([_concat(a, b) for a in acc for b in nxt])
    return acc


def _concat(a: _Part, b: _Part) -> _Part:
    if b.start and (a.text or a.end):
        raise Untranslatable("'^' after other characters")
    if a.end and b.text:
        raise Untranslatable("characters after '$'")
    return _Part(a.start or b.start, a.end or b.end, a.text + b.text)


def _merge(parts: list[_Part]) -> list[_Part]:
    """Alternatives with the same anchoring become one `(x|y)`, so variants never multiply."""
    by_kind: dict[tuple[bool, bool], list[str]] = {}
    for p in parts:
        by_kind.setdefault((p.start, p.end), []).append(p.text)
    out = []
    for (start, end), texts in by_kind.items():
        unique = list(dict.fromkeys(texts))
        text = unique[0] if len(unique) == 1 else "(" + "|".join(unique) + ")"
        out.append(_Part(start, end, text))
    return out


def _plain(op: Any, av: Any, flags: int) -> str:
    parts = _node(op, av, flags)
    if len(parts) != 1 or parts[0].start or parts[0].end:
        raise Untranslatable("an anchor inside a repetition")
    return parts[0].text


def _node(op: Any, av: Any, flags: int) -> list[_Part]:
    if op is C.LITERAL:
        return [_Part(False, False, _char(av, flags))]
    if op is C.NOT_LITERAL:
        return [_Part(False, False, "[^" + "".join(_class_char(c) for c in _cases(av, flags)) + "]")]
    if op is C.ANY:
        return [_Part(False, False, "." if flags & re.DOTALL else "[^\n]")]
    if op is C.IN:
        return [_Part(False, False, _klass(av, flags))]
    if op is C.AT:
        if av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING):
            return [_Part(True, False, "")]
        if av is C.AT_END:
            return [_Part(False, True, "")]
        raise Untranslatable(f"the assertion {str(av).lower()} (word boundary or \\Z)")
    if op is C.SUBPATTERN:
        _group, add, remove, body = av
        return _seq(list(body), (flags | add) & ~remove)
    if op is C.BRANCH:
        return _merge([p for branch in av[1] for p in _seq(list(branch), flags)])
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):
        low, high, body = av
        inner = _plain(C.SUBPATTERN, (None, 0, 0, body), flags)
        return [_Part(False, False, "(" + inner + ")" + _count(low, high))]
    raise Untranslatable(f"the construct {str(op).lower()} (lookaround, back-reference or atomic group)")


def _count(low: int, high: int) -> str:
    if high is C.MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if (low, high) == (0, 1):
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


_SPECIAL = frozenset('.?+*|{}[]()"\\#@&<>~^$-')
_CATEGORIES = {
    C.CATEGORY_DIGIT: "0-9",
    C.CATEGORY_SPACE: " \t\n\r\f\v",  # the characters themselves: Lucene reads \n as "n"
    C.CATEGORY_WORD: "a-zA-Z0-9_",
}
_NEGATED = {
    C.CATEGORY_NOT_DIGIT: C.CATEGORY_DIGIT,
    C.CATEGORY_NOT_SPACE: C.CATEGORY_SPACE,
    C.CATEGORY_NOT_WORD: C.CATEGORY_WORD,
}


def _cases(code: int, flags: int) -> list[str]:
    c = chr(code)
    if flags & re.IGNORECASE and c.isascii() and c.isalpha():
        return [c.lower(), c.upper()]
    return [c]


def _escape(c: str) -> str:
    return "\\" + c if c in _SPECIAL else c


def _char(code: int, flags: int) -> str:
    variants = _cases(code, flags)
    if len(variants) == 1:
        return _escape(variants[0])
    return "[" + "".join(variants) + "]"


def _class_char(c: str) -> str:
    return _escape(c)


def _klass(items: list[tuple[Any, Any]], flags: int) -> str:
    negate = False
    chars: list[str] = []
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.extend(_class_char(c) for c in _cases(av, flags))
        elif op is C.RANGE:
            chars.extend(_ranges(av[0], av[1], flags))
        elif op is C.CATEGORY and av in _CATEGORIES:
            chars.append(_CATEGORIES[av])
        elif op is C.CATEGORY and av in _NEGATED and len(items) == 1:
            return "[^" + _CATEGORIES[_NEGATED[av]] + "]"
        else:
            raise Untranslatable(f"the class item {str(op).lower()} {av}")
    if not chars:
        raise Untranslatable("an empty character class")
    return ("[^" if negate else "[") + "".join(chars) + "]"


def _ranges(low: int, high: int, flags: int) -> list[str]:
    out = [_class_char(chr(low)) + "-" + _class_char(chr(high))]
    if flags & re.IGNORECASE:
        for a, z, shift in ((0x61, 0x7A, -32), (0x41, 0x5A, 32)):
            lo, hi = max(low, a), min(high, z)
            if lo <= hi:
                out.append(chr(lo + shift) + "-" + chr(hi + shift))
    return out
