"""A rule's match / no-match cases, run on a real store: what `soc rules test` does.

`rules/linux/auth/x.yml` has its cases in `tests/rules/linux/auth/x.cases.yml` (or next to the
rule as `x.cases.yml`):

    match:     [events the rule must find]
    no_match:  [near misses it must not find]
    scenarios:             # correlation rules
      - name: five failures in a minute
        findings: 1        # how many findings the correlation must raise
        events: [...]

Events are ECS documents (dotted keys allowed); a missing `event.dataset` is the rule's first
dataset and a missing `@timestamp` is a fixed time. Every rule and scenario gets its own agency,
so one store serves a whole run and the engine needs a single index template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from soc.detect.evaluate import evaluate
from soc.detect.model import Rule
from soc.store.base import EventStore, Window, scan

INGESTED_AT = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
EVENT_AT = "2026-11-27T02:59:00Z"
WINDOW = Window(INGESTED_AT, INGESTED_AT + timedelta(seconds=1))


@dataclass
class Result:
    rule: Rule
    backend: str
    cases: int = 0
    failures: list[str] = field(default_factory=list)


def cases_path(rule_path: Path) -> Path:
    """tests/rules/<same place>/<name>.cases.yml, or the file next to the rule."""
    beside = rule_path.with_name(rule_path.stem + ".cases.yml")
    parts = rule_path.resolve().parts
    if "rules" in parts:
        i = len(parts) - 1 - parts[::-1].index("rules")
        root = Path(*parts[:i])
        mirrored = root / "tests" / "rules" / Path(*parts[i + 1 :]).with_suffix(".cases.yml")
        if mirrored.exists() or not beside.exists():
            return mirrored
    return beside


def run(store: EventStore, rules: Sequence[Rule], everything: Mapping[str, Rule]) -> list[Result]:
    """Run the cases of each rule on `store`; a rule without a cases file is a failure."""
    results = []
    for n, rule in enumerate(rules):
        result = Result(rule, store.backend)
        path = cases_path(rule.path)
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            result.failures.append(f"{path}: cannot read the cases: {exc}")
            results.append(result)
            continue
        if rule.correlation is None:
            _single(store, rule, spec, f"r{n}", result, path)
        else:
            _scenarios(store, rule, spec, f"r{n}", everything, result, path)
        results.append(result)
    return results


def _prepare(rule: Rule, raw: Mapping[str, Any], marker: str) -> dict[str, Any]:
    doc = dict(raw)
    doc.setdefault("@timestamp", EVENT_AT)
    if "event.dataset" not in doc and "dataset" not in dict(doc.get("event") or {}):
        doc["event.dataset"] = rule.datasets[0] if rule.datasets else "generic"
    doc["labels.case"] = marker
    return doc


def _single(store: EventStore, rule: Rule, spec: Mapping[str, Any], agency: str, result: Result,
            path: Path) -> None:  # fmt: skip
    must = list(spec.get("match") or [])
    must_not = list(spec.get("no_match") or [])
    if not must or not must_not:
        result.failures.append(f"{path}: needs at least one 'match' and one 'no_match' event")
    docs = [_prepare(rule, e, f"match {i + 1}") for i, e in enumerate(must)]
    docs += [_prepare(rule, e, f"no_match {i + 1}") for i, e in enumerate(must_not)]
    written = store.write(docs, agency=agency, now=INGESTED_AT)
    for error in written.errors:
        result.failures.append(f"{path}: case {docs[error.position]['labels.case']} rejected: {error.reason}")
    store.refresh()
    assert rule.query is not None
    hits = scan(store, rule.query, agencies=[agency], window=WINDOW, datasets=rule.datasets)
    found = {str(h.source.get("labels", {}).get("case")) for h in hits}
    result.cases += len(docs)
    for doc in docs:
        marker = doc["labels.case"]
        wanted = marker.startswith("match")
        if wanted != (marker in found):
            verb = "was not matched" if wanted else "matched but must not"
            result.failures.append(f"{path}: {marker} {verb}")


def _scenarios(store: EventStore, rule: Rule, spec: Mapping[str, Any], agency: str,
               everything: Mapping[str, Rule], result: Result, path: Path) -> None:  # fmt: skip
    scenarios = list(spec.get("scenarios") or [])
    if not any(s.get("findings") for s in scenarios) or not any(s.get("findings") == 0 for s in scenarios):
        result.failures.append(f"{path}: needs a scenario that fires and one that must not")
    assert rule.correlation is not None
    first = everything[rule.correlation.rules[0]]
    for i, scenario in enumerate(scenarios):
        name = scenario.get("name") or f"scenario {i + 1}"
        who = f"{agency}s{i}"
        docs = [_prepare(first, e, f"{name} {j}") for j, e in enumerate(scenario.get("events") or [])]
        written = store.write(docs, agency=who, now=INGESTED_AT)
        for error in written.errors:
            result.failures.append(f"{path}: {name}: event {error.position + 1} rejected: {error.reason}")
        store.refresh()
        findings = list(evaluate(store, rule, WINDOW, rules=everything, agencies=[who]))
        result.cases += 1
        want = int(scenario.get("findings", 0))
        if len(findings) != want:
            groups = [dict(f.group) for f in findings]
            result.failures.append(f"{path}: {name}: {len(findings)} findings {groups}, expected {want}")
