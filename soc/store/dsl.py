"""Query trees and index templates as Elasticsearch/OpenSearch JSON (the two speak the same DSL)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from soc import ecs
from soc.store import regex
from soc.store.base import Agencies, Window
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
    _as_int,
    _date_millis,
    _range_value,
    check,
    keyword,
)

KEYWORD = {"type": "keyword", "ignore_above": ecs.MAX_INDEXED_CHARS}


def compile_query(query: Query) -> dict[str, Any]:
    check(query)
    return _compile(query)


def _compile(query: Query) -> dict[str, Any]:
    match query:
        case MatchAll():
            return {"match_all": {}}
        case And(items):
            return {"bool": {"filter": [_compile(q) for q in items]}}
        case Or(items) if (terms := _terms(items)) is not None:
            return terms
        case Or(items):
            return {"bool": {"should": [_compile(q) for q in items], "minimum_should_match": 1}}
        case Not(item):
            return {"bool": {"must_not": [_compile(item)]}}
        case Exists(field):
            return {"exists": {"field": field}}
        case Term(field, value, cased):
            kind = ecs.field_type(field)
            if kind == "keyword":
                term: dict[str, Any] = {"value": keyword(value)}
                # A case-insensitive term of "" matches nothing on the engines (an empty automaton),
                # yet "" has no case: ask for it exactly.
                if not cased and term["value"]:
                    if _has_unicode_case(term["value"]):
                        return _regexp(field, _literal_regexp(term["value"]))
                    term["case_insensitive"] = True
                return {"term": {field: term}}
            if kind == "long":
                return {"term": {field: _as_int(value)}}
            if kind == "date":
                return {"term": {field: {"value": _date_millis(value, field), "format": "epoch_millis"}}}
            if kind == "boolean":
                return {"term": {field: value in (True, "true")}}
            return {"term": {field: str(value)}}
        case Wildcard(field, pattern, cased):
            if not cased and _has_unicode_case(pattern):
                return _regexp(field, _wildcard_regexp(pattern))
            return {"wildcard": {field: {"value": pattern, "case_insensitive": not cased}}}
        case Regex(field, pattern):
            # Case-insensitivity is spelled out in the regexp itself ([aA]), ASCII only as in Python.
            return {"regexp": {field: {"value": regex.to_lucene(pattern), "flags": "NONE"}}}
        case Cidr(field, network):
            return {"term": {field: network}}
        case Range(field, gte, gt, lte, lt):
            kind = ecs.field_type(field)
            bounds = {
                op: _range_value(kind, v, field)
                for op, v in (("gte", gte), ("gt", gt), ("lte", lte), ("lt", lt))
                if v is not None
            }
            if kind == "date":
                bounds["format"] = "epoch_millis"  # type: ignore[assignment]
            return {"range": {field: bounds}}
    raise AssertionError(f"unknown query node {query!r}")


def _terms(items: tuple[Query, ...]) -> dict[str, Any] | None:
    """Cased terms on one keyword or ip field as one `terms` query: the same documents as the
    `should` of term queries, without the engines' limit of 1,024 clauses per bool query."""
    if len(items) < 2 or not all(isinstance(q, Term) and q.cased for q in items):
        return None
    fields = {q.field for q in items if isinstance(q, Term)}
    field = fields.pop()
    if fields or ecs.field_type(field) not in ("keyword", "ip"):
        return None
    convert = keyword if ecs.field_type(field) == "keyword" else str
    return {"terms": {field: [convert(q.value) for q in items if isinstance(q, Term)]}}


# Lucene's case_insensitive flag folds ASCII only (so "ĐỨC" would not find "Đức"). For text with
# other cased letters the query becomes a regexp with both cases spelled out: [Đđ][Ứứ][Cc].
_LUCENE_SPECIAL = frozenset('.?+*|{}[]()"\\#@&<>~')


def _has_unicode_case(text: str) -> bool:
    return any(ord(c) > 127 and c.lower() != c.upper() for c in text)


def _char(c: str) -> str:
    lower, upper = c.lower(), c.upper()
    variants = {v for v in (c, lower, upper) if len(v) == 1}
    if len(variants) > 1:
        return "[" + "".join(sorted(variants)) + "]"
    return "\\" + c if c in _LUCENE_SPECIAL else c


def _literal_regexp(text: str) -> str:
    return "".join(_char(c) for c in text)


def _wildcard_regexp(pattern: str) -> str:
    out: list[str] = []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            out.append(_char(next(chars, "\\")))
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        else:
            out.append(_char(c))
    return "".join(out)


def _regexp(field: str, rx: str) -> dict[str, Any]:
    return {"regexp": {field: {"value": rx, "flags": "NONE", "case_insensitive": True}}}


def scoped(
    query: Query, agencies: Agencies, window: Window | None, datasets: Collection[str] | None
) -> dict[str, Any]:
    """The query with the agency scope, ingest-time window and dataset filter every read gets."""
    filters = [compile_query(query)]
    if agencies is not None:
        filters.append({"terms": {ecs.AGENCY: list(agencies)}})
    if datasets is not None:
        filters.append({"terms": {ecs.DATASET: list(datasets)}})
    if window is not None:
        span = {"gte": ecs.to_millis(window.start), "lt": ecs.to_millis(window.end)}
        filters.append({"range": {ecs.INGESTED: {**span, "format": "epoch_millis"}}})
    return {"bool": {"filter": filters}}


def events_template(prefix: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in ecs.IP_FIELDS:
        _put_mapping(properties, name, {"type": "ip"})
    for name in ecs.LONG_FIELDS:
        _put_mapping(properties, name, {"type": "long"})
    for name in ecs.DATE_FIELDS:
        _put_mapping(properties, name, {"type": "date"})
    for name in ecs.BOOLEAN_FIELDS:
        _put_mapping(properties, name, {"type": "boolean"})
    for name in ecs.UNINDEXED_FIELDS:
        _put_mapping(properties, name, {"type": "keyword", "index": False, "doc_values": False})
    for name in (ecs.HASH, ecs.AGENCY, ecs.DATASET, "message"):
        _put_mapping(properties, name, KEYWORD)
    # Every other value is a keyword, numbers and booleans included, so that a field never
    # changes type between documents (which would make an engine reject the later ones while
    # the embedded store accepted them).
    dynamic = [
        {kind: {"match_mapping_type": kind, "mapping": KEYWORD}}
        for kind in ("string", "long", "double", "boolean")
    ]
    return {
        "index_patterns": [f"{prefix}-events-*"],
        "priority": 100,
        "template": {
            "settings": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "index.mapping.total_fields.limit": 5000,
            },
            "mappings": {
                "date_detection": False,
                "numeric_detection": False,
                "dynamic_templates": dynamic,
                "properties": properties,
            },
        },
    }


def rejected_template(prefix: str, *, replicas: int = 0) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-rejected-*"],
        "priority": 100,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "mappings": {
                "dynamic": False,
                "properties": {
                    "@timestamp": {"type": "date"},
                    "organization": {"properties": {"id": {"type": "keyword"}}},
                    "error": {"properties": {"message": {"type": "keyword", "index": False}}},
                    "soc": {"properties": {"rejected": {"type": "keyword", "index": False}}},
                },
            },
        },
    }


def _put_mapping(properties: dict[str, Any], name: str, mapping: dict[str, Any]) -> None:
    parts = [name] if name == ecs.TIMESTAMP else name.split(".")
    target = properties
    for part in parts[:-1]:
        target = target.setdefault(part, {"properties": {}})["properties"]
    target[parts[-1]] = dict(mapping)
