"""Load Sigma rule files into frozen `Rule`s, refusing each malformed one with every problem listed.

Files are parsed with pySigma one at a time (a fresh object per conversion, since pySigma's own
processing mutates rules) and converted at once; nothing of pySigma outlives the load. Correlation
rules may reference rules of other files by `name` or `id`; they are resolved after every file is
read. Problems read `path:line: message`, the line found in the YAML itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleNotFoundError
from sigma.rule import SigmaRule

from soc.detect import convert, correlations, pipeline, yamlpos
from soc.detect.model import LEVELS, Rule


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """Every rule file under the given files and directories (cases files excluded), sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(p for p in path.rglob("*.yml") if not p.name.endswith(".cases.yml"))
            out.extend(p for p in path.rglob("*.yaml") if not p.name.endswith(".cases.yaml"))
        else:
            out.append(path)
    # Resolved, so one file named two ways (rules/x.yml and /abs/rules/x.yml) is read once.
    return sorted({p.resolve() for p in out})


def load_rules(paths: Sequence[Path]) -> tuple[list[Rule], list[str]]:
    """The rules that load cleanly, and one `file:line: message` per problem in the others."""
    problems: list[str] = []
    singles: list[tuple[Rule, str | None, pipeline.Source]] = []
    pending: list[tuple[Path, str, str, SigmaCorrelationRule]] = []
    for path in rule_files(paths):
        for item in _parse_file(path, problems):
            match item:
                case (text, version, SigmaCorrelationRule() as corr):
                    pending.append((path, text, version, corr))
                case (text, version, SigmaRule() as sigma):
                    built = _single(path, text, version, sigma, problems)
                    if built is not None:
                        singles.append((built, sigma.name, convert.source_of(sigma)))
    by_ref: dict[str, Rule] = {}
    sources: dict[str, pipeline.Source] = {}
    for loaded, name, source in singles:
        by_ref[loaded.id] = loaded
        sources[loaded.id] = source
        if name:
            by_ref[name] = loaded
    out = [loaded for loaded, *_ in singles]
    for path, text, version, corr in pending:
        done = _correlation(path, text, version, corr, by_ref, sources, problems)
        if done is not None:
            out.append(done)
    return _unique_ids(out, problems), problems


def _unique_ids(rules: list[Rule], problems: list[str]) -> list[Rule]:
    """Two files with one id would share alert ids and watermarks: keep the first, report the rest."""
    first: dict[str, Path] = {}
    kept = []
    for rule in rules:
        if rule.id in first and first[rule.id] != rule.path:
            line = yamlpos.line_of(rule.source, ("id",))
            problems.append(f"{rule.path}:{line}: rule id {rule.id} is also used by {first[rule.id]}")
            continue
        first.setdefault(rule.id, rule.path)
        kept.append(rule)
    return kept


def _parse_file(path: Path, problems: list[str]) -> Iterable[tuple[str, str, Any]]:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}:1: cannot read: {exc}")
        return
    version = hashlib.sha256(raw).hexdigest()[:12]
    try:
        collection = SigmaCollection.from_yaml(text, collect_errors=True, resolve_references=False)
    except (SigmaError, ValueError) as exc:
        problems.append(f"{path}:{yamlpos.error_line(exc)}: {_short(exc)}")
        return
    broken = False
    for rule in collection.rules:
        for error in rule.errors:
            if isinstance(error, SigmaRuleNotFoundError):
                continue  # references to other files are resolved once every file is read
            problems.append(f"{path}:{yamlpos.error_line(error, text)}: {_short(error)}")
            broken = True
    if broken:
        return
    for rule in collection.rules:
        yield text, version, rule


def _common(path: Path, text: str, rule: SigmaRule | SigmaCorrelationRule, problems: list[str]) -> bool:
    ok = True
    if rule.id is None:
        problems.append(f"{path}:1: the rule has no id")
        ok = False
    if rule.level is not None and rule.level.name.lower() not in LEVELS:
        problems.append(f"{path}:{yamlpos.line_of(text, ('level',))}: unknown level {rule.level}")
        ok = False
    return ok


def _meta(rule: SigmaRule | SigmaCorrelationRule) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        "title": rule.title,
        "level": rule.level.name.lower() if rule.level is not None else "medium",
        "tags": tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        "description": (rule.description or "").strip(),
    }


def _single(path: Path, text: str, version: str, rule: SigmaRule, problems: list[str]) -> Rule | None:
    if not _common(path, text, rule, problems):
        return None
    try:
        converted = convert.convert(rule)
    except convert.ConversionError as exc:
        problems.append(f"{path}:{yamlpos.line_for_message(text, str(exc))}: {exc}")
        return None
    return Rule(
        **_meta(rule), version=version, path=path, source=text, query=converted.query,
        datasets=converted.datasets, correlation=None,
    )  # fmt: skip


def _correlation(
    path: Path,
    text: str,
    version: str,
    corr: SigmaCorrelationRule,
    by_ref: dict[str, Rule],
    sources: dict[str, pipeline.Source],
    problems: list[str],
) -> Rule | None:
    if not _common(path, text, corr, problems):
        return None
    try:
        built = correlations.build(corr, by_ref, sources)
    except correlations.CorrelationError as exc:
        problems.append(f"{path}:{yamlpos.line_of(text, ('correlation',))}: {exc}")
        return None
    refs = [by_ref[r] for r in built.rules]
    datasets: tuple[str, ...] | None = None
    if all(r.datasets is not None for r in refs):
        datasets = tuple(sorted({d for r in refs for d in r.datasets or ()}))
    interval = min(timedelta(minutes=5), built.timespan)
    return Rule(
        **_meta(corr), version=version, path=path, source=text, query=None, datasets=datasets,
        correlation=built, interval=interval,
    )  # fmt: skip


def _short(exc: BaseException) -> str:
    return str(exc).split(" in file ")[0].strip()
