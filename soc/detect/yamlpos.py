"""Line numbers in a rule's YAML, so every problem can be printed as `file:line: message`.

pySigma rarely knows the line of what it refuses; the YAML node tree does. These helpers never
raise: an unknown position is line 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import yaml


def line_of(text: str, keys: Sequence[str]) -> int:
    """1-based line of the mapping key at `keys` (a path from the top), or of its nearest parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return mark.line + 1 if mark is not None else 1
    line = 1
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line


def find_line(text: str, pattern: str, after: int = 1) -> int | None:
    rx = re.compile(pattern)
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= after and rx.search(line):
            return number
    return None


def line_for_message(text: str, message: str) -> int:
    """Where a conversion problem lies: the field it names, else the logsource or detection."""
    detection = line_of(text, ("detection",))
    field = re.search(r"field '([^']+)'", message)
    if field:
        name = re.escape(field.group(1))
        found = find_line(text, rf"^\s*-?\s*['\"]?{name}['\"]?\s*(\||:)", after=detection)
        if found is not None:
            return found
    if message.startswith("logsource"):
        return line_of(text, ("logsource",))
    quoted = re.search(r"'([^']{3,})'", message)
    if quoted:
        found = find_line(text, re.escape(quoted.group(1)), after=detection)
        if found is not None:
            return found
    return detection


def error_line(exc: BaseException, text: str | None = None) -> int:
    source = getattr(exc, "source", None)
    line = getattr(source, "line", None)
    if isinstance(line, int):
        return line
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    if text is not None:
        return line_for_message(text, str(exc))
    return 1
