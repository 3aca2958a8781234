"""nginx access (combined, X-Forwarded-For lists, empty requests) and error logs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from collectors.parsers import access
from collectors.parsers.base import Context, Line, iso_time, set_source, shell, sub

ACCESS = "nginx.access"
ERROR = "nginx.error"
_ERROR = re.compile(
    r"^(?P<date>\d{4}/\d\d/\d\d) (?P<time>\d\d:\d\d:\d\d) \[(?P<level>\w+)\] (?P<pid>\d+)#(?P<tid>\d+): "
    r"(?:\*(?P<conn>\d+) )?(?P<msg>.*)$",
    re.DOTALL,
)
_CLIENT = re.compile(r", client: (?P<ip>[^,\s]+)")
_REQUEST = re.compile(r', request: "(?P<method>[A-Z]+) (?P<url>\S+)(?: HTTP/(?P<version>[\d.]+))?"')


def parse(line: Line, ctx: Context) -> dict[str, Any] | None:
    """An access or an error line."""
    return parse_access(line, ctx) or parse_error(line, ctx)


def parse_access(line: Line, ctx: Context) -> dict[str, Any] | None:
    return access.parse(line, ctx, ACCESS)


def parse_error(line: Line, ctx: Context) -> dict[str, Any] | None:
    m = _ERROR.match(line.text)
    if m is None:
        return None
    try:
        at = datetime.strptime(f"{m['date']} {m['time']}", "%Y/%m/%d %H:%M:%S").replace(tzinfo=ctx.tz)
    except ValueError:
        return None
    ev = shell(line, ctx, ERROR)
    ev["@timestamp"] = iso_time(at)
    ev["event"].update(timezone=ctx.timezone, category=["web"], type=["error"], action="http_error")
    ev["log"]["level"] = m["level"]
    ev["process"] = {"pid": int(m["pid"]), "thread": {"id": int(m["tid"])}}
    msg = m["msg"]
    ev["message"] = msg
    if m["conn"]:
        ev["nginx"] = {"error": {"connection_id": int(m["conn"])}}
    if (c := _CLIENT.search(msg)) is not None:
        set_source(ev, c["ip"])
    if (r := _REQUEST.search(msg)) is not None:
        sub(sub(ev, "http"), "request")["method"] = r["method"]
        ev["url"] = {"original": r["url"]}
    return ev
