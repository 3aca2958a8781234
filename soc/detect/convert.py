"""A Sigma detection as a `soc.store.query` tree: the one conversion every backend shares.

This is our pySigma "backend": it walks the rule's parsed condition (pySigma has already applied
the modifiers) and builds the neutral query, field names mapped through `soc.detect.pipeline`.
Because every store answers the tree identically, a rule converted once gives the same alerts on
SQLite, OpenSearch and Elasticsearch. Matching follows Sigma: case-insensitive unless `|cased`,
`|re` is a Python-style substring search, keywords search `message` as substrings.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from soc.detect import pipeline
from soc.errors import QueryError
from soc.store.query import And, Cidr, Exists, Not, Or, Query, Range, Regex, Term, Wildcard, check


class ConversionError(ValueError):
    """The rule cannot become a query; the message says why (shown with file and line)."""


@dataclass(frozen=True)
class Converted:
    query: Query
    """The detection with the logsource scope, checked on the neutral tree."""
    datasets: tuple[str, ...] | None
    detection: Query
    """The detection alone, before scoping (what `soc rules convert` shows)."""


def source_of(rule: SigmaRule) -> pipeline.Source:
    ls = rule.logsource
    found = pipeline.source_for(ls.product, ls.category, ls.service)
    if found is None:
        parts = [f"{k}={v}" for k, v in (("product", ls.product), ("category", ls.category),
                                          ("service", ls.service)) if v]  # fmt: skip
        raise ConversionError(f"logsource {' '.join(parts) or '(empty)'} is not one our pipeline knows")
    return found


def convert(rule: SigmaRule) -> Converted:
    """The rule's detection, scoped to its logsource. Raises ConversionError with the reason."""
    source = source_of(rule)
    conditions = rule.detection.parsed_condition
    try:
        trees = [_node(c.parsed, source) for c in conditions]
    except SigmaError as exc:
        raise ConversionError(str(exc).split(" in file ")[0]) from None
    detection = trees[0] if len(trees) == 1 else Or(tuple(trees))
    query = detection if source.scope is None else And((source.scope, detection))
    try:
        check(query)
    except QueryError as exc:
        raise ConversionError(str(exc)) from None
    return Converted(query, source.datasets, detection)


def _node(node: object, source: pipeline.Source) -> Query:
    match node:
        case ConditionAND():
            return And(tuple(_node(a, source) for a in _args(node)))
        case ConditionOR():
            return Or(tuple(_node(a, source) for a in _args(node)))
        case ConditionNOT():
            return Not(_node(_args(node)[0], source))
        case ConditionFieldEqualsValueExpression(field=name, value=value):
            target = pipeline.ecs_field(source, name)
            if target is None:
                raise ConversionError(f"field '{name}' has no ECS mapping for this logsource")
            return _value(target, value, source)
        case ConditionValueExpression(value=value):
            return _keyword(value)
    raise ConversionError(f"unsupported condition element {type(node).__name__}")


def _args(node: ConditionItem) -> list[object]:
    return list(node.args)


def _value(name: str, value: SigmaType, source: pipeline.Source) -> Query:
    match value:
        case SigmaExpansion(values=values):
            return Or(tuple(_value(name, v, source) for v in values))
        case SigmaNull():
            return Not(Exists(name))
        case SigmaExists():
            return Exists(name) if value.exists else Not(Exists(name))
        case SigmaBool():
            return Term(name, bool(value.boolean))
        case SigmaNumber():
            return Term(name, _number(value))
        case SigmaCompareExpression():
            return _compare(name, value)
        case SigmaCIDRExpression():
            return Cidr(name, str(value.network))
        case SigmaRegularExpression():
            return Regex(name, _regex(value))
        case SigmaString():
            return _string(name, value, isinstance(value, SigmaCasedString), source)
    raise ConversionError(f"{type(value).__name__} values (field {name}) have no query equivalent")


def _string(name: str, value: SigmaString, cased: bool, source: pipeline.Source) -> Query:
    if not all(isinstance(p, str) for p in value.s):
        return Wildcard(name, _pattern(value), cased)
    text = "".join(p for p in value.s if isinstance(p, str))
    mapped = source.values.get(name, {}).get(text.lower())
    return Term(name, mapped if mapped is not None else text, cased)


def _pattern(value: SigmaString) -> str:
    out: list[str] = []
    for part in value.s:
        if part is SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        elif isinstance(part, str):
            out.append("".join("\\" + c if c in "*?\\" else c for c in part))
        else:
            raise ConversionError(f"placeholder %{part.name}% is not resolved by our pipeline")
    return "".join(out)


def _keyword(value: SigmaType) -> Query:
    field = pipeline.KEYWORD_FIELD
    match value:
        case SigmaExpansion(values=values):
            return Or(tuple(_keyword(v) for v in values))
        case SigmaRegularExpression():
            return Regex(field, _regex(value))
        case SigmaString():
            # Keywords are substrings of the message, whatever wildcards they carry themselves.
            return Wildcard(field, f"*{_pattern(value)}*", isinstance(value, SigmaCasedString))
        case SigmaNumber():
            return Wildcard(field, f"*{_number(value)}*")
    raise ConversionError(f"{type(value).__name__} cannot be a keyword (field-less) search")


def _number(value: SigmaNumber) -> int:
    n = value.number
    if isinstance(n, float) and not n.is_integer():
        raise ConversionError(f"the number {n} is not whole; fields hold whole numbers")
    return int(n)


def _compare(name: str, value: SigmaCompareExpression) -> Query:
    n = _number(value.number)
    match value.op:
        case CompareOperators.LT:
            return Range(name, lt=n)
        case CompareOperators.LTE:
            return Range(name, lte=n)
        case CompareOperators.GT:
            return Range(name, gt=n)
        case CompareOperators.GTE:
            return Range(name, gte=n)
    return Not(Term(name, n))


_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def _regex(value: SigmaRegularExpression) -> str:
    pattern = value.regexp.original
    flags = "".join(sorted(_FLAGS[f] for f in value.flags))
    return f"(?{flags}){pattern}" if flags else pattern
