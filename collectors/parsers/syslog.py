"""Syslog lines as written to files or sent on the wire: RFC 3164, RFC 5424, RFC 3339 / ISO 8601.

RFC 3164 has no year and no zone: the year comes from `Context.year_for` (never a future date),
the zone from the configuration, recorded in `event.timezone`. After the header the program tag
picks a message parser (sshd, sudo, su, account tools, cron, PAM, ClamAV); an unknown program
still gives a specific `system.syslog` event, because its header was understood.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from collectors.parsers import accounts, clamav, cron, pam, sshd, su, sudo
from collectors.parsers.base import MONTHS, Context, Line, MessageParser, iso_time, shell, sub

_PRI = re.compile(r"^<(\d{1,3})>")
_BSD = re.compile(
    r"^(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(?P<day>\d{1,2}) "
    r"(?P<time>\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?: (?P<year>\d{4}))?(?: (?P<rest>.*))?$",
    re.DOTALL,
)
_ISO = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?P<zone>Z|[+-]\d\d:?\d\d)?)"
    r"(?: (?P<rest>.*))?$",
    re.DOTALL,
)
_V1 = re.compile(
    r"^1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) (?P<rest>.*)$", re.DOTALL
)
_TAG = re.compile(
    # "syslogd 1.4.1:" and "-- root[2421]:" (login on sysvinit) are real tags seen in the wild
    r"^(?:(?P<host>[^\s\[\]:]+) +)?(?P<prog>(?:-- )?[^\s\[\]:]+(?: [\d.]+)?)"
    r"(?:\[(?P<pid>\d+)[^\]]*\])?:(?: (?P<msg>.*))?$",
    re.DOTALL,
)
_SD_PARAM = re.compile(r'\s*([^=\s\]]+)="((?:[^"\\]|\\.)*)"')

AUTH = "system.auth"
SYSLOG = "system.syslog"
PROGRAMS: dict[str, tuple[MessageParser, str]] = {
    "sshd": (sshd.parse_message, AUTH),
    "sudo": (sudo.parse_message, AUTH),
    "su": (su.parse_message, AUTH),
    "cron": (cron.parse_message, SYSLOG),
    "crond": (cron.parse_message, SYSLOG),
    "clamd": (clamav.parse_message, clamav.DATASET),
    "clamav": (clamav.parse_message, clamav.DATASET),
    "freshclam": (clamav.parse_message, clamav.DATASET),
    "clamscan": (clamav.parse_message, clamav.DATASET),
    **{
        name: (accounts.parse_message, AUTH)
        for name in (
            "useradd",
            "usermod",
            "userdel",
            "groupadd",
            "groupmod",
            "groupdel",
            "passwd",
            "chpasswd",
            "chage",
            "gpasswd",
            "newusers",
        )
    },
    **{name: (pam.parse_message, AUTH) for name in ("login", "systemd-logind", "polkitd", "pkexec", "gdm")},
}


def parse(line: Line, ctx: Context, program_parser: MessageParser | None = None) -> dict[str, Any] | None:
    """A syslog event, or None when the line has no syslog header."""
    text = line.text
    pri = None
    if text.startswith("<") and (p := _PRI.match(text)) is not None:
        pri, text = int(p[1]), text[p.end() :]
    if text.startswith("1 ") and pri is not None:
        return _rfc5424(line, ctx, pri, text, program_parser)
    if (m := _BSD.match(text)) is not None:
        mon, day_text, hms, year_text, rest = m.groups()  # one call instead of five named lookups
        month, day = MONTHS[mon], int(day_text)
        year = int(year_text) if year_text else ctx.year_for(month, day)
        try:
            stamp = ctx.stamp(year, month, day, hms)
        except ValueError:
            return None
        ev = shell(line, ctx, SYSLOG)
        ev["event"]["timezone"] = ctx.timezone
        return _finish(ev, line, ctx, pri, stamp, rest or "", program_parser)
    if (m := _ISO.match(text)) is not None:
        try:
            at = datetime.fromisoformat(m["ts"].replace(",", "."))
        except ValueError:
            return None
        ev = shell(line, ctx, SYSLOG)
        if at.tzinfo is None:
            at = at.replace(tzinfo=ctx.tz)
            ev["event"]["timezone"] = ctx.timezone
        return _finish(ev, line, ctx, pri, iso_time(at), m["rest"] or "", program_parser)
    return None


def _finish(
    ev: dict[str, Any],
    line: Line,
    ctx: Context,
    pri: int | None,
    stamp: str,
    rest: str,
    program_parser: MessageParser | None,
) -> dict[str, Any]:
    ev["@timestamp"] = stamp
    _priority(ev, pri)
    tag = _TAG.match(rest)
    if tag is None:
        ev["message"] = rest
        return ev
    hostname, program, pid, msg = tag.groups()
    if hostname:
        _hostname(ev, hostname, ctx)
    msg = msg or ""
    ev["message"] = msg
    process = sub(ev, "process")
    process["name"] = program
    if pid:
        process["pid"] = int(pid)
    _dispatch(ev, program, msg, ctx, program_parser)
    return ev


def _dispatch(
    ev: dict[str, Any], program: str, msg: str, ctx: Context, program_parser: MessageParser | None
) -> None:
    base, parser, dataset = _program(program)
    if program_parser is not None and program_parser is not parser:
        parser, dataset = program_parser, AUTH
    if parser is None and ("(pam_" in program or msg.startswith("pam_")):
        parser, dataset = pam.parse_message, AUTH
    if ctx.path is not None and dataset == SYSLOG and _is_auth_file(ctx.path):
        dataset = AUTH
    ev["event"]["dataset"] = dataset
    if parser is not None and not parser(msg.strip(), ev):
        ev.setdefault("tags", []).append(f"_{base}_message_unrecognized")


@lru_cache(maxsize=1024)
def _program(program: str) -> tuple[str, MessageParser | None, str]:
    """A tag's program name (path and `(pam_…)` suffix cut, lower case), its parser and dataset."""
    base = program.split("(", 1)[0].rsplit("/", 1)[-1].lower()
    parser, dataset = PROGRAMS.get(base, (None, SYSLOG))
    return base, parser, dataset


@lru_cache(maxsize=256)
def _is_auth_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith(("auth.log", "secure"))


def _hostname(ev: dict[str, Any], hostname: str, ctx: Context) -> None:
    host = sub(ev, "host")
    host["hostname"] = hostname
    host.setdefault("name", hostname)


def _priority(ev: dict[str, Any], pri: int | None) -> None:
    if pri is None or pri > 191:
        return
    ev["log"]["syslog"] = {
        "priority": pri,
        "facility": {"code": pri >> 3},
        "severity": {"code": pri & 7},
    }


def _rfc5424(
    line: Line, ctx: Context, pri: int, text: str, program_parser: MessageParser | None
) -> dict[str, Any] | None:
    m = _V1.match(text)
    if m is None:
        return None
    ev = shell(line, ctx, SYSLOG)
    if m["ts"] == "-":
        at = ctx.now
    else:
        try:
            at = datetime.fromisoformat(m["ts"])
        except ValueError:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=ctx.tz)
    ev["@timestamp"] = iso_time(at)
    _priority(ev, pri)
    syslog = ev["log"].setdefault("syslog", {})
    if m["host"] != "-":
        _hostname(ev, m["host"], ctx)
    structured, msg = _structured_data(m["rest"])
    if structured:
        syslog["structured_data"] = structured
    if msg.startswith("\ufeff"):
        msg = msg[1:]
    ev["message"] = msg
    if m["msgid"] != "-":
        syslog["msgid"] = m["msgid"]
    if m["procid"] != "-":
        syslog["procid"] = m["procid"]
    if m["app"] != "-":
        syslog["appname"] = m["app"]
        process = sub(ev, "process")
        process["name"] = m["app"]
        if m["procid"].isdigit():
            process["pid"] = int(m["procid"])
        _dispatch(ev, m["app"], msg, ctx, program_parser)
    return ev


def _structured_data(rest: str) -> tuple[dict[str, dict[str, str]], str]:
    """Split `[id k="v"]… message` into {id: {k: v}} and the message; NILVALUE `-` gives {}."""
    if rest.startswith("-"):
        return {}, rest[2:] if rest.startswith("- ") else rest[1:]
    out: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(rest) and rest[pos] == "[":
        end_id = pos + 1
        while end_id < len(rest) and rest[end_id] not in " ]":
            end_id += 1
        params: dict[str, str] = {}
        cursor = end_id
        while True:
            p = _SD_PARAM.match(rest, cursor)
            if p is None:
                break
            params[p[1]] = re.sub(r"\\([\"\\\]])", r"\1", p[2])
            cursor = p.end()
        if cursor >= len(rest) or rest[cursor] != "]":
            break  # malformed: leave the remainder in the message
        out[rest[pos + 1 : end_id]] = params
        pos = cursor + 1
    return out, rest[pos:].lstrip(" ")
