"""Apache httpd access (common, combined) and error logs (2.2 and 2.4 formats)."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import access
from collectors.parsers.base import MONTHS, Context, Line, set_source, shell

ACCESS = "apache.access"
ERROR = "apache.error"
_ERROR = re.compile(
    r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>\w{3}) (?P<day>\d\d) (?P<time>\d\d:\d\d:\d\d(?:\.\d+)?) "
    r"(?P<year>\d{4})\] \[(?:(?P<module>[\w-]+):)?(?P<level>\w+)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?(?: \[client (?P<client>[^\]]+)\])? ?(?P<msg>.*)$",
    re.DOTALL,
)
_CLIENT_PORT = re.compile(r"^(?P<ip>.+?)(?::(?P<port>\d+))?$")


def parse(line: Line, ctx: Context) -> dict[str, Any] | None:
    """An access or an error line."""
    return parse_access(line, ctx) or parse_error(line, ctx)


def parse_access(line: Line, ctx: Context) -> dict[str, Any] | None:
    return access.parse(line, ctx, ACCESS)


def parse_error(line: Line, ctx: Context) -> dict[str, Any] | None:
    m = _ERROR.match(line.text)
    if m is None or (month := MONTHS.get(m["mon"])) is None:
        return None
    try:
        stamp = ctx.stamp(int(m["year"]), month, int(m["day"]), m["time"])
    except ValueError:
        return None
    ev = shell(line, ctx, ERROR)
    ev["@timestamp"] = stamp
    ev["event"].update(timezone=ctx.timezone, category=["web"], type=["error"], action="http_error")
    ev["log"]["level"] = m["level"]
    ev["message"] = m["msg"].strip()
    if m["module"]:
        ev["apache"] = {"error": {"module": m["module"]}}
    if m["pid"]:
        ev["process"] = {"pid": int(m["pid"])}
        if m["tid"]:
            ev["process"]["thread"] = {"id": int(m["tid"])}
    if m["client"]:
        c = _CLIENT_PORT.match(m["client"])
        if c is not None:
            set_source(ev, c["ip"].strip("[]"), c["port"])
    return ev
