"""Sigma correlation rules as `Correlation` values: references resolved, group-by fields mapped.

Supported types are the four Sigma defines for alerting on counts and sequences: event_count,
value_count, temporal and temporal_ordered. The value_sum/avg/percentile/median extensions and
correlations of correlations are refused with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import cast

from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule

from soc.detect import pipeline
from soc.detect.model import Condition, Correlation, CorrelationType, Operator, Rule

SUPPORTED = ("event_count", "value_count", "temporal", "temporal_ordered")


class CorrelationError(ValueError):
    pass


def build(
    corr: SigmaCorrelationRule, by_ref: Mapping[str, Rule], sources: Mapping[str, pipeline.Source]
) -> Correlation:
    kind = str(corr.type.name).lower()
    if kind not in SUPPORTED:
        raise CorrelationError(f"correlation type {kind} is not supported (only {', '.join(SUPPORTED)})")
    refs: list[Rule] = []
    for ref in corr.rules or []:
        rule = by_ref.get(ref.reference)
        if rule is None:
            raise CorrelationError(f"references rule '{ref.reference}', which is not loaded")
        if rule.correlation is not None:
            raise CorrelationError(f"references '{ref.reference}', itself a correlation")
        refs.append(rule)
    if not refs:
        raise CorrelationError("references no rule")
    group_by = tuple(corr.group_by or ())
    aliases = {a.alias: {r.reference: f for r, f in a.mapping.items()} for a in corr.aliases}
    fields: list[tuple[str, tuple[str, ...]]] = []
    for ref, rule in zip(corr.rules or [], refs, strict=True):
        names = []
        for name in group_by:
            alias = aliases.get(name)
            sigma_name = name
            if alias is not None:
                found = alias.get(ref.reference) or alias.get(rule.id)
                if found is None:
                    raise CorrelationError(f"alias '{name}' has no field for rule '{ref.reference}'")
                sigma_name = found
            names.append(_map(sources[rule.id], sigma_name))
        fields.append((rule.id, tuple(names)))
    condition = _condition(corr, kind, refs, sources)
    return Correlation(
        type=cast(CorrelationType, kind),
        rules=tuple(r.id for r in refs),
        group_by=group_by,
        fields=tuple(fields),
        timespan=timedelta(seconds=corr.timespan.seconds),
        condition=condition,
        generate=bool(corr.generate),
    )


def _map(source: pipeline.Source, name: str) -> str:
    mapped = pipeline.ecs_field(source, name)
    if mapped is None:
        raise CorrelationError(f"field '{name}' has no ECS mapping for the referenced rule's logsource")
    return mapped


def _condition(
    corr: SigmaCorrelationRule, kind: str, refs: list[Rule], sources: Mapping[str, pipeline.Source]
) -> Condition:
    raw = corr.condition
    if not isinstance(raw, SigmaCorrelationCondition):
        raise CorrelationError("extended (boolean) correlation conditions are not supported")
    op = raw.op
    field: str | None = None
    fieldref = raw.fieldref
    if kind == "value_count":
        if not isinstance(fieldref, str):
            raise CorrelationError("value_count needs one condition field")
        mapped = {_map(sources[r.id], fieldref) for r in refs}
        if len(mapped) != 1:
            raise CorrelationError(f"field '{fieldref}' maps to different fields: {sorted(mapped)}")
        field = mapped.pop()
    return Condition(op=cast(Operator, op.name.lower()), value=int(raw.count), field=field)
