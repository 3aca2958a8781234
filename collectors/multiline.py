"""Joining continuation lines into one record (stack traces, macOS syslog dumps).

A line matching `pattern` (or not matching it, with `negate`) continues the record before it.
Each line keeps its own terminator, so a record's bytes are exactly the file's bytes and the
record's `log.offset` is the offset of its first line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Multiline:
    pattern: str
    """Regular expression tested on each line (without its terminator)."""
    negate: bool = False
    """True: lines that do NOT match continue the previous record (e.g. pattern `^\\d{4}-`)."""
    max_lines: int = 500
    """A record never grows past this many lines; the rest start a new record."""

    def compiled(self) -> re.Pattern[bytes]:
        return re.compile(self.pattern.encode())

    def continues(self, regex: re.Pattern[bytes], line: bytes) -> bool:
        matched = regex.search(line.rstrip(b"\r\n")) is not None
        return matched != self.negate


def join(lines: Iterable[bytes], rule: Multiline) -> Iterator[bytes]:
    """Records from raw lines; a record ends when a line does not continue it."""
    regex = rule.compiled()
    current: list[bytes] = []
    for line in lines:
        if current and len(current) < rule.max_lines and rule.continues(regex, line):
            current.append(line)
            continue
        if current:
            yield b"".join(current)
        current = [line]
    if current:
        yield b"".join(current)
