"""Shape checks: turn a playbook's YAML (with line numbers) into a `Playbook`, noting every problem.

Only the shape is checked here (keys, types, levels); whether names refer to things that exist and
whether the graph is sound is `checks.py`'s job, once everything is read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from soc.dossiers.messages import Problem, problem
from soc.dossiers.playbook import (
    AGENCY,
    KINDS,
    LEVELS,
    Deadline,
    Legacy,
    Playbook,
    State,
    Transition,
    as_list,
    text_of,
)
from soc.dossiers.yamlmap import LineMap

TOP_KEYS = {
    "id", "kind", "title", "regime", "default", "legal_basis", "initial", "entry_states", "states",
    "transitions", "documents", "forms", "bodies", "routing", "required_documents", "deadlines", "legacy",
}  # fmt: skip
STATE_KEYS = {"title", "final", "approved"}
TRANSITION_KEYS = {"name", "from", "to", "roles", "title", "acting_as", "guards", "levels", "form", "comment"}
DEADLINE_KEYS = {"name", "state", "anchor", "title", "working_days", "hours", "reminders", "escalate_to"}


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def add(self, line: int, message: str, **args: Any) -> None:
        self.problems.append(problem(self.path, line, message, **args))

    def mapping(self, parent: LineMap, key: Any, what: str) -> LineMap:
        value = parent.get(key)
        if value is None:
            return LineMap()
        if not isinstance(value, LineMap):
            self.add(parent.line_of(key), "not_mapping", what=what)
            return LineMap()
        return value

    def keys(self, node: LineMap, allowed: set[str], what: str) -> None:
        for key in node:
            if key not in allowed:
                self.add(node.line_of(key), "unknown_key", key=key, what=what)

    def names(self, node: LineMap, key: str, what: str) -> tuple[str, ...]:
        items = as_list(node.get(key))
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.add(items.line_of(i) if items.lines else node.line_of(key), "bad_value", what=what,
                         why=f"expected a name, got {item!r}")  # fmt: skip
            else:
                out.append(item)
        return tuple(out)

    def level(self, value: Any, line: int) -> int | None:
        text = str(value).strip().upper()
        if text.startswith("L") and text[1:].isdigit() and int(text[1:]) in LEVELS:
            return int(text[1:])
        self.add(line, "unknown_level", name=value)
        return None

    def levels(self, node: LineMap, key: str) -> tuple[int, ...]:
        if key not in node:
            return LEVELS
        items = as_list(node[key])
        found = [
            self.level(v, items.line_of(i) if items.lines else node.line_of(key)) for i, v in enumerate(items)
        ]
        return tuple(sorted(x for x in found if x is not None))

    def integer(self, value: Any, line: int, what: str) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        self.add(line, "bad_value", what=what, why=f"expected a whole number >= 0, got {value!r}")
        return None


def parse(path: str, raw: LineMap) -> tuple[Playbook | None, list[Problem]]:
    r = _Reader(path)
    r.keys(raw, TOP_KEYS, "playbook")
    for key in ("id", "kind", "initial", "states", "transitions"):
        if key not in raw:
            r.add(raw.line, "missing", key=key)
    kind = str(raw.get("kind", "dossier"))
    if kind not in KINDS:
        r.add(raw.line_of("kind"), "unknown_kind", value=kind)
    states = {str(name): _state(r, str(name), node, raw["states"].line_of(name))
              for name, node in r.mapping(raw, "states", "states").items()}  # fmt: skip
    transitions: dict[str, Transition] = {}
    items = as_list(raw.get("transitions"))
    for i, node in enumerate(items):
        line = items.line_of(i)
        if not isinstance(node, LineMap):
            r.add(line, "not_mapping", what="transition")
            continue
        built = _transition(r, node)
        if built is not None:
            if built.name in transitions:
                r.add(line, "duplicate_transition", name=built.name)
            transitions[built.name] = built
    documents, uploaders = {}, {}
    for name, node in r.mapping(raw, "documents", "documents").items():
        documents[str(name)] = text_of(node, str(name))
        roles = node.get("uploaded_by") if isinstance(node, LineMap) else None
        uploaders[str(name)] = tuple(str(x) for x in as_list(roles)) or ("agency_officer",)
    playbook = Playbook(
        id=str(raw.get("id", "")),
        kind=kind,
        path=path,
        title=text_of(raw.get("title"), str(raw.get("id", path))),
        regime=str(raw.get("regime", "")),
        default=bool(raw.get("default", False)),
        initial=str(raw.get("initial", "")),
        entry_states=r.names(raw, "entry_states", "entry_states"),
        states=states,
        transitions=transitions,
        documents=documents,
        uploaders=uploaders,
        forms={str(k): text_of(v, str(k)) for k, v in r.mapping(raw, "forms", "forms").items()},
        bodies={str(k): text_of(v, str(k)) for k, v in r.mapping(raw, "bodies", "bodies").items()},
        routing=_routing(r, r.mapping(raw, "routing", "routing")),
        required_documents=_required(r, r.mapping(raw, "required_documents", "required_documents")),
        deadlines=_deadlines(r, as_list(raw.get("deadlines"))),
        legacy=_legacy(r, raw),
        lines={str(k): raw.line_of(k) for k in raw},
    )
    return playbook, r.problems


def _state(r: _Reader, name: str, node: Any, line: int) -> State:
    if node is None:
        node = LineMap()
    if not isinstance(node, LineMap):
        r.add(line, "not_mapping", what=f"state '{name}'")
        node = LineMap()
    r.keys(node, STATE_KEYS, f"state '{name}'")
    final, approved = bool(node.get("final", False)), bool(node.get("approved", False))
    return State(name=name, title=text_of(node.get("title"), name), line=line, final=final, approved=approved)


def _transition(r: _Reader, node: LineMap) -> Transition | None:
    r.keys(node, TRANSITION_KEYS, "transition")
    for key in ("name", "from", "to", "roles"):
        if key not in node:
            r.add(node.line, "missing", key=key)
    if "name" not in node or "to" not in node:
        return None
    name = str(node["name"])
    return Transition(
        name=name,
        sources=r.names(node, "from", f"transition '{name}' from"),
        target=str(node["to"]),
        roles=r.names(node, "roles", f"transition '{name}' roles"),
        title=text_of(node.get("title"), name),
        line=node.line,
        acting_as=str(node.get("acting_as", AGENCY)),
        guards=r.names(node, "guards", f"transition '{name}' guards"),
        levels=r.levels(node, "levels"),
        form=str(node["form"]) if node.get("form") is not None else None,
        comment_required=node.get("comment") == "required",
    )


def _routing(r: _Reader, node: LineMap) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for key, slots in node.items():
        level = r.level(key, node.line_of(key))
        if level is None:
            continue
        if not isinstance(slots, LineMap):
            r.add(node.line_of(key), "not_mapping", what=f"routing {key}")
            continue
        out[level] = {str(slot): str(body) for slot, body in slots.items()}
    return out


def _required(r: _Reader, node: LineMap) -> dict[str, dict[int, tuple[str, ...]]]:
    out: dict[str, dict[int, tuple[str, ...]]] = {}
    for transition, per_level in node.items():
        if not isinstance(per_level, LineMap):
            r.add(node.line_of(transition), "not_mapping", what=f"required_documents {transition}")
            continue
        levels: dict[int, tuple[str, ...]] = {}
        for key in per_level:
            level = r.level(key, per_level.line_of(key))
            if level is not None:
                levels[level] = r.names(per_level, key, f"required_documents {transition} {key}")
        out[str(transition)] = levels
    return out


def _deadlines(r: _Reader, items: Any) -> tuple[Deadline, ...]:
    out = []
    for i, node in enumerate(items):
        line = items.line_of(i)
        if not isinstance(node, LineMap):
            r.add(line, "not_mapping", what="deadline")
            continue
        r.keys(node, DEADLINE_KEYS, "deadline")
        name = str(node.get("name", f"#{i + 1}"))
        for key in ("name", "state"):
            if key not in node:
                r.add(node.line, "missing", key=key)
        if not node.get("anchor"):
            r.add(node.line, "missing_anchor", name=name)
        days: dict[int, int] = {}
        raw_days = node.get("working_days")
        if isinstance(raw_days, LineMap):
            for key, value in raw_days.items():
                level, n = r.level(key, raw_days.line_of(key)), r.integer(value, raw_days.line_of(key), name)
                if level is not None and n is not None:
                    days[level] = n
        elif raw_days is not None:
            n = r.integer(raw_days, node.line_of("working_days"), name)
            days = dict.fromkeys(LEVELS, n) if n is not None else {}
        hours = r.integer(node["hours"], node.line_of("hours"), name) if "hours" in node else None
        if ("working_days" in node) == ("hours" in node):
            r.add(node.line, "deadline_length", name=name)
        items = as_list(node.get("reminders"))
        found = {r.integer(v, items.line_of(i), name) for i, v in enumerate(items)}
        reminders = tuple(sorted((n for n in found if n), reverse=True))
        out.append(Deadline(
            name=name, states=r.names(node, "state", f"deadline '{name}' state"),
            anchor=str(node.get("anchor") or ""), title=text_of(node.get("title"), name), line=node.line,
            working_days=days, hours=hours, reminders=reminders,
            escalate_to=r.names(node, "escalate_to", f"deadline '{name}' escalate_to"),
        ))  # fmt: skip
    return tuple(out)


def _legacy(r: _Reader, raw: LineMap) -> Legacy | None:
    node = r.mapping(raw, "legacy", "legacy")
    if not node:
        return None
    line = raw.line_of("legacy")
    in_force = node.get("in_force")
    months = r.integer(node.get("months"), node.line_of("months"), "legacy months")
    if not isinstance(in_force, date):
        r.add(node.line_of("in_force"), "bad_value", what="legacy in_force", why="expected a date YYYY-MM-DD")
        return None
    return Legacy(state=str(node.get("state", "")), in_force=in_force, months=months or 0, line=line)
