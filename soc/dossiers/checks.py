"""Reference and graph checks on a parsed playbook: every name resolves, every state is reachable,
every state can still reach a final one, every deadline has an anchor that can happen.

Problems are collected, never raised, so `soc validate` can list them all in one pass.
"""

from __future__ import annotations

from typing import Protocol

from soc.db.models import ROLES
from soc.dossiers.guards import GUARDS
from soc.dossiers.messages import Problem, problem
from soc.dossiers.playbook import AGENCY, CREATED, Playbook


class _Add(Protocol):
    def __call__(self, line: int, message: str, **args: object) -> None: ...


def check(pb: Playbook) -> list[Problem]:
    out: list[Problem] = []

    def add(line: int, message: str, **args: object) -> None:
        out.append(problem(pb.path, line, message, **args))

    states = pb.states
    if pb.initial and pb.initial not in states:
        add(pb.lines.get("initial", 1), "unknown_state", name=pb.initial)
    for name in pb.entry_states:
        if name not in states:
            add(pb.lines.get("entry_states", 1), "unknown_state", name=name)
    if states and not any(s.final for s in states.values()):
        add(pb.lines.get("states", 1), "no_terminal")
    _check_transitions(pb, add)
    _check_documents(pb, add)
    _check_deadlines(pb, add)
    if pb.legacy is not None and pb.legacy.state not in states:
        add(pb.legacy.line, "unknown_state", name=pb.legacy.state)
    _check_graph(pb, add)
    return out


def _check_transitions(pb: Playbook, add: _Add) -> None:
    for t in pb.transitions.values():
        for name in (*t.sources, t.target):
            if name not in pb.states:
                add(t.line, "unknown_state", name=name)
        for source in t.sources:
            if source in pb.states and pb.states[source].final:
                add(t.line, "terminal_has_exit", name=source, transition=t.name)
        for role in t.roles:
            if role not in ROLES:
                add(t.line, "unknown_role", name=role)
        for guard in t.guards:
            if guard not in GUARDS:
                add(t.line, "unknown_guard", name=guard)
        if "required_documents_present" in t.guards and t.name not in pb.required_documents:
            add(t.line, "no_documents_for_guard", name=t.name)
        if t.form is not None and t.form not in pb.forms:
            add(t.line, "unknown_form", name=t.form)
        if t.acting_as != AGENCY and pb.kind == "dossier":
            missing = [f"L{n}" for n in t.levels if t.acting_as not in pb.routing.get(n, {})]
            if missing:
                add(t.line, "missing_routing", transition=t.name, slot=t.acting_as, levels=", ".join(missing))


def _check_documents(pb: Playbook, add: _Add) -> None:
    line = pb.lines.get("documents", 1)
    for roles in pb.uploaders.values():
        for role in roles:
            if role not in ROLES:
                add(line, "unknown_role", name=role)
    req_line = pb.lines.get("required_documents", 1)
    for transition, per_level in pb.required_documents.items():
        if transition not in pb.transitions:
            add(req_line, "unknown_transition", name=transition)
        for kinds in per_level.values():
            for kind in kinds:
                if kind not in pb.documents:
                    add(req_line, "unknown_document", name=kind)
    routing_line = pb.lines.get("routing", 1)
    for slots in pb.routing.values():
        for body in slots.values():
            if body not in pb.bodies:
                add(routing_line, "unknown_body", name=body)


def _check_deadlines(pb: Playbook, add: _Add) -> None:
    events = {CREATED, *pb.transitions}
    slots = {slot for level in pb.routing.values() for slot in level} | {AGENCY}
    for d in pb.deadlines:
        for state in d.states:
            if state not in pb.states:
                add(d.line, "unknown_state", name=state)
        if d.anchor and d.anchor not in events:
            add(d.line, "unknown_anchor", name=d.name, anchor=d.anchor)
        for target in d.escalate_to:
            if target not in slots and target not in ROLES:
                add(d.line, "escalate_target", name=d.name, target=target)


def _check_graph(pb: Playbook, add: _Add) -> None:
    edges: dict[str, set[str]] = {name: set() for name in pb.states}
    for t in pb.transitions.values():
        for source in t.sources:
            if source in edges and t.target in pb.states:
                edges[source].add(t.target)
    starts = [s for s in (pb.initial, *pb.entry_states) if s in pb.states]
    if not starts:
        return
    reachable = _closure(starts, edges)
    for name, state in pb.states.items():
        if name not in reachable:
            add(state.line, "unreachable_state", name=name)
    finals = {name for name, s in pb.states.items() if s.final}
    if not finals:
        return
    reverse: dict[str, set[str]] = {name: set() for name in pb.states}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].add(source)
    can_finish = _closure(finals, reverse)
    stuck = [name for name in pb.states if name in reachable and name not in can_finish]
    # Report each trap once: the states that reach one another form one group.
    seen: set[str] = set()
    for name in stuck:
        if name in seen:
            continue
        group = sorted(n for n in _closure([name], edges) if name in _closure([n], edges)) or [name]
        seen.update(group)
        add(pb.states[name].line, "no_exit", names=", ".join(group))


def _closure(starts: list[str] | set[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
