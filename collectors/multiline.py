"""Joining continuation lines into one record (stack traces, macOS syslog dumps).

A line matching `pattern` (or not matching it, with `negate`) continues the record before it.
Each line keeps its own terminator, so a record's bytes are exactly the file's bytes and the
record's `log.offset` is the offset of its first line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Multiline:
    pattern: str
    """Regular expression tested on each line (without its terminator)."""
    negate: bool = False
    """True: lines that do NOT match continue the previous record (e.g. pattern `^\\d{4}-`)."""
    max_lines: int = 500
    """A record never grows past this many lines; the rest start a new record."""

    def continues(self, line: bytes) -> bool:
        """Whether `line` (with or without its terminator) continues the record before it."""
        matched = _compile(self.pattern).search(line.rstrip(b"\r\n")) is not None
        return matched != self.negate


@lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode())


def join(lines: Iterable[bytes], rule: Multiline) -> Iterator[bytes]:
    """Records from raw lines; a record ends when a line does not continue it."""
    current: list[bytes] = []
    for line in lines:
        if current and len(current) < rule.max_lines and rule.continues(line):
            current.append(line)
            continue
        if current:
            yield b"".join(current)
        current = [line]
    if current:
        yield b"".join(current)
