"""`soc rules check`: every problem of every rule file at once, each as `file:line: message`.

Two layers: pySigma's own validators (structure, modifiers, tags, duplicates) and ours, which is
loading itself: a logsource our pipeline does not know, a field without an ECS mapping, a regex
that cannot run the same on every backend, a correlation that references a missing rule.
Validators that need the network (ATT&CK and D3FEND data downloads) are left out, so checking
works offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.validation import SigmaValidator
from sigma.validators.base import SigmaValidationIssue
from sigma.validators.core import validators

from soc.detect import yamlpos
from soc.detect.rules import load_rules, rule_files

OFFLINE_EXCLUDED = frozenset({"attacktag", "d3_fendtag"})
"""Validators that download reference data on first use."""


def check(paths: Sequence[Path]) -> list[str]:
    """All problems, sorted by file and line; empty when every rule is fine."""
    _, problems = load_rules(paths)
    problems.extend(validate(paths))
    return sorted(set(problems), key=_order)


def validate(paths: Sequence[Path]) -> list[str]:
    chosen = [cls for name, cls in validators.items() if name not in OFFLINE_EXCLUDED]
    validator = SigmaValidator(chosen)
    texts: dict[str, str] = {}
    issues: list[SigmaValidationIssue] = []
    for path in rule_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
            collection = SigmaCollection.from_yaml(
                text, collect_errors=True, resolve_references=False, source=SigmaRuleLocation(path)
            )
        except (OSError, UnicodeDecodeError, SigmaError, ValueError):
            continue  # load_rules reports unreadable files with their reason
        texts[str(path)] = text
        for rule in collection.rules:
            if not rule.errors:
                issues.extend(validator.validate_rule(rule))  # type: ignore[arg-type]
    issues.extend(validator.finalize())
    out = []
    for issue in issues:
        detail = " ".join(
            f"{f.name}={getattr(issue, f.name)}"
            for f in fields(issue)
            if f.name not in ("rules", "severity", "description")
        )
        for rule in issue.rules:
            where = str(rule.source.path) if rule.source is not None else "?"
            text = texts.get(where, "")
            line = yamlpos.line_for_message(text, detail) if text else 1
            severity = issue.severity.name.lower()
            out.append(f"{where}:{line}: {issue.description} ({severity}; {detail})".replace("; )", ")"))
    return out


def _order(problem: str) -> tuple[str, int]:
    path, _, rest = problem.partition(":")
    line = rest.split(":", 1)[0]
    return path, int(line) if line.isdigit() else 0
