"""YAML that remembers where things are: mappings and lists carry the line of each key and item.

Playbook problems must read `file:line: what`, so the loader keeps the positions PyYAML knows
while building plain Python values. Only safe tags are understood (a SafeLoader subclass).
"""

from __future__ import annotations

from typing import Any

import yaml


class LineMap(dict[Any, Any]):
    """A mapping with `line` (where it starts) and `lines[key]` (where each key is)."""

    line: int = 1

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list[Any]):
    """A list with `line` (where it starts) and `lines[i]` (where each item is)."""

    line: int = 1

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    out = LineMap()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(text: str) -> Any:
    """Parse one YAML document; raises yaml.YAMLError (with `problem_mark`) when it is not YAML."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def error_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None)
    return int(mark.line) + 1 if mark is not None else 1
