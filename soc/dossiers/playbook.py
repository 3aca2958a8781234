"""Playbooks: a workflow declared in YAML, loaded into frozen dataclasses with every problem listed.

A playbook names its states, the transitions between them (which roles may take them, acting for
which routed body, behind which guards), the documents each level must carry, who appraises and
approves each level, and the deadlines that run while a case sits in a state. `load_playbook`
returns a `Playbook` or raises `ConfigError` listing every problem as `file:line: what`; structural
checks (reachability, exits, anchors) live in `checks.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from soc.dossiers import yamlmap
from soc.dossiers.messages import Problem, problem
from soc.dossiers.yamlmap import LineList, LineMap
from soc.errors import ConfigError

LEVELS = (1, 2, 3, 4, 5)
KINDS = ("dossier", "incident")
CREATED = "created"
"""The event every case has: its creation. Deadlines may count from it."""
AGENCY = "agency"
"""The pseudo routing slot of the case's own agency (its officers)."""


@dataclass(frozen=True)
class Text:
    en: str
    vi: str

    def get(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


@dataclass(frozen=True)
class State:
    name: str
    title: Text
    line: int
    final: bool = False
    approved: bool = False
    """Counts as "approved" in reports (approved, implementing, in operation, legacy approved)."""


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    title: Text
    line: int
    acting_as: str = AGENCY
    """Routing slot the actor must belong to (appraise, approve, opinion) or `agency`."""
    guards: tuple[str, ...] = ()
    levels: tuple[int, ...] = LEVELS
    form: str | None = None
    comment_required: bool = False


@dataclass(frozen=True)
class Deadline:
    name: str
    states: tuple[str, ...]
    """The clock runs while the case is in one of these states."""
    anchor: str
    title: Text
    line: int
    working_days: dict[int, int] = field(default_factory=dict)
    """Per level; a level missing here has no statutory limit."""
    hours: int | None = None
    reminders: tuple[int, ...] = ()
    """Working days (or hours) before the deadline at which to remind."""
    escalate_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Legacy:
    """Dossiers approved under an older regime keep their level but must comply within `months`."""

    state: str
    in_force: date
    months: int
    line: int


@dataclass(frozen=True)
class Playbook:
    id: str
    kind: str
    path: str
    title: Text
    regime: str
    default: bool
    initial: str
    entry_states: tuple[str, ...]
    states: dict[str, State]
    transitions: dict[str, Transition]
    documents: dict[str, Text] = field(default_factory=dict)
    uploaders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Which roles may upload each document kind."""
    forms: dict[str, Text] = field(default_factory=dict)
    bodies: dict[str, Text] = field(default_factory=dict)
    routing: dict[int, dict[str, str]] = field(default_factory=dict)
    required_documents: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict)
    deadlines: tuple[Deadline, ...] = ()
    legacy: Legacy | None = None
    lines: dict[str, int] = field(default_factory=dict)
    """Line of each top-level key, for problems found later."""

    def transitions_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions.values() if state in t.sources]

    def approved_states(self) -> set[str]:
        return {s.name for s in self.states.values() if s.approved}


def load_playbook(path: Path, lang: str = "en") -> Playbook:
    """Load and check one playbook; raises ConfigError with every problem in `lang`."""
    playbook, problems = read_playbook(path)
    if problems or playbook is None:
        raise ConfigError([p.render(lang) for p in problems])
    return playbook


def read_playbook(path: Path) -> tuple[Playbook | None, list[Problem]]:
    """The playbook (None if it could not be built) and every problem found in it."""
    from soc.dossiers.checks import check

    where = str(path)
    try:
        raw = yamlmap.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [problem(where, 1, "bad_value", what="file", why=str(exc.strerror))]
    except yaml.YAMLError as exc:
        return None, [problem(where, yamlmap.error_line(exc), "yaml", error=getattr(exc, "problem", exc))]
    if not isinstance(raw, LineMap):
        return None, [problem(where, 1, "not_mapping", what="playbook")]
    from soc.dossiers.parse import parse

    playbook, problems = parse(where, raw)
    if playbook is not None:
        problems.extend(check(playbook))
    problems.sort(key=lambda p: p.line)
    return playbook, problems


def text_of(value: Any, fallback: str) -> Text:
    if isinstance(value, dict):
        en = str(value.get("en") or fallback)
        return Text(en=en, vi=str(value.get("vi") or en))
    if isinstance(value, str):
        return Text(en=value, vi=value)
    return Text(en=fallback, vi=fallback)


def as_list(value: Any) -> LineList:
    if isinstance(value, LineList):
        return value
    out = LineList()
    if value is not None:
        out.append(value)
    return out
