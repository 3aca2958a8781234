"""Log lines to ECS events: one module per format, registered here by name.

`parse_lines` is the public entry point (the collector's pipeline and `soc hunt` call it). Every
line yields exactly one event: the format's own, or a generic one carrying `event.original`,
`error.message` and a tag. No exception from a parser ever escapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from collectors.parsers import accounts, apache, auditd, clamav, cron, jsonl, nginx, sshd, su, sudo, syslog
from collectors.parsers.base import Context, Line, Parser, unparsed
from collectors.parsers.detect import detect

PARSERS: dict[str, Parser] = {
    "syslog": syslog.parse,
    "sshd": partial(syslog.parse, program_parser=sshd.parse_message),
    "sudo": partial(syslog.parse, program_parser=sudo.parse_message),
    "su": partial(syslog.parse, program_parser=su.parse_message),
    "accounts": partial(syslog.parse, program_parser=accounts.parse_message),
    "cron": partial(syslog.parse, program_parser=cron.parse_message),
    "auditd": auditd.parse,
    "nginx": nginx.parse,
    "nginx_access": nginx.parse_access,
    "nginx_error": nginx.parse_error,
    "apache": apache.parse,
    "apache_access": apache.parse_access,
    "apache_error": apache.parse_error,
    "clamav": clamav.parse,
    "jsonl": jsonl.parse,
}
FORMATS: tuple[str, ...] = ("auto", *PARSERS)
"""Names accepted by `parse_lines(fmt=…)`, `soc-collector parse --format` and the `parse` transform."""


def parse_lines(
    lines: Iterable[bytes],
    *,
    fmt: str = "auto",
    path: str | None = None,
    host: str | None = None,
    timezone: str = "Asia/Ho_Chi_Minh",
    year: int | None = None,
) -> Iterator[dict[str, Any]]:
    """One nested ECS event per line (a record may span lines: multiline joins keep their `\\n`).

    `lines` are raw records as read from a file, each with or without its final `\\n`; `log.offset`
    is the byte offset of each record's first byte, counting one `\\n` for a record given without
    one. `timezone` is the zone of timestamps that carry none (RFC 3164, Apache, nginx error);
    `year` is the year of the first year-less timestamp (default: the latest year that puts it
    in the past).
    """
    ctx = make_context(fmt, path=path, host=host, timezone=timezone, year=year)
    offset = 0
    for raw in lines:
        size = len(raw) if raw.endswith(b"\n") else len(raw) + 1
        yield parse_one(record(raw, offset), ctx, fmt)
        offset += size


def make_context(fmt: str, *, path: str | None, host: str | None, timezone: str, year: int | None) -> Context:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; known: {', '.join(FORMATS)}")
    return Context(timezone=timezone, year=year, host=host, path=path)


def record(raw: bytes, offset: int, flags: tuple[str, ...] = ()) -> Line:
    """A raw record as a Line: final terminator dropped, invalid UTF-8 replaced and flagged."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        if "invalid_utf8" not in flags:
            flags = (*flags, "invalid_utf8")
    if "\n" in text and "multiline" not in flags:
        flags = (*flags, "multiline")
    return Line(text, offset, flags)


def parse_one(line: Line, ctx: Context, fmt: str = "auto") -> dict[str, Any]:
    """The event for one line; never raises."""
    name = fmt
    try:
        if fmt == "auto":
            detected = detect(line.text, ctx.path)
            if detected is None:
                return unparsed(line, ctx, "no parser recognised this line")
            name = detected
        event = PARSERS[name](line, ctx)
    except Exception as exc:  # a parser bug must not lose the line or stop the collector
        return unparsed(line, ctx, f"parser '{name}' failed: {type(exc).__name__}: {exc}", "_parser_error")
    if event is None:
        if fmt == "auto" and name != "syslog":
            # e.g. a `{` line that is not JSON may still be syslog-ish; one more, cheap try
            return unparsed(line, ctx, f"not a valid {name} line")
        return unparsed(line, ctx, f"not a {name} line", f"_{name}_parse_failure")
    return event


__all__ = ["FORMATS", "PARSERS", "parse_lines"]
