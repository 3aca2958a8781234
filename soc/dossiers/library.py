"""Every playbook in a folder, checked together: `soc validate` and the dossier service start here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from soc.bundled import folder
from soc.dossiers.messages import Problem, problem
from soc.dossiers.playbook import CREATED, Playbook, read_playbook
from soc.errors import ConfigError

BUNDLED = folder("playbooks")
"""The playbooks shipped with the service."""


@dataclass(frozen=True)
class Library:
    playbooks: dict[str, Playbook]

    def get(self, playbook_id: str) -> Playbook:
        try:
            return self.playbooks[playbook_id]
        except KeyError:
            raise ConfigError([f"unknown playbook '{playbook_id}'"]) from None

    def default(self, kind: str = "dossier") -> Playbook:
        for pb in self.playbooks.values():
            if pb.kind == kind and pb.default:
                return pb
        raise ConfigError([f"no default {kind} playbook"])

    def by_regime(self, regime: str, kind: str = "dossier") -> Playbook:
        for pb in self.playbooks.values():
            if pb.kind == kind and pb.regime == regime:
                return pb
        raise ConfigError([f"no {kind} playbook for regime '{regime}'"])


def playbook_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def read_library(folder: Path) -> tuple[Library, list[Problem]]:
    """The playbooks that load cleanly, and every problem in every file (and across files)."""
    problems: list[Problem] = []
    loaded: dict[str, Playbook] = {}
    for path in playbook_files(folder):
        playbook, found = read_playbook(path)
        problems.extend(found)
        if playbook is None or found:
            continue
        if playbook.id in loaded:
            problems.append(problem(str(path), playbook.lines.get("id", 1), "duplicate_id",
                                    name=playbook.id, other=loaded[playbook.id].path))  # fmt: skip
            continue
        loaded[playbook.id] = playbook
    for kind in ("dossier", "incident"):
        defaults = [pb for pb in loaded.values() if pb.kind == kind and pb.default]
        if len(defaults) > 1:
            last = defaults[-1]
            problems.append(problem(last.path, last.lines.get("default", 1), "two_defaults",
                                    kind=kind, names=", ".join(pb.id for pb in defaults)))  # fmt: skip
    return Library(loaded), problems


def load_library(folder: Path | None = None, lang: str = "en") -> Library:
    """Every playbook in `folder` (default: the bundled ones); ConfigError lists every problem."""
    library, problems = read_library(folder or BUNDLED)
    if problems:
        raise ConfigError([p.render(lang) for p in problems])
    return library


@lru_cache(maxsize=4)
def _loaded(folder: str) -> Library:
    return load_library(Path(folder))


def bundled() -> Library:
    """The shipped playbooks, loaded once: for callers that were not handed a configured library."""
    return _loaded(str(BUNDLED))


def report_hours(playbook: Playbook) -> dict[str, int]:
    """An incident playbook's reports and their limits: deadline name -> hours after creation."""
    return {d.name: d.hours for d in playbook.deadlines if d.hours is not None and d.anchor == CREATED}
