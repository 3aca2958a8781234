"""JSON lines that are already ECS documents (from another shipper, or an application's ECS logger).

Dotted keys are expanded (`{"source.ip": …}` → `{"source": {"ip": …}}`) with the service's own rule;
`@timestamp` is normalised to UTC; the line itself goes to `event.original` unless present.
"""

from __future__ import annotations

from typing import Any

import orjson

from collectors.parsers.base import Context, Line, iso_time, sub
from soc.ecs import expand, parse_time

DATASET = "json.log"


def parse(line: Line, ctx: Context) -> dict[str, Any] | None:
    if not line.text.startswith("{"):
        return None
    try:
        doc = orjson.loads(line.text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    try:
        ev: dict[str, Any] = dict(expand(doc))
    except ValueError:
        return None
    event = ev.get("event")
    if not isinstance(event, dict):
        if event is not None:
            return None
        event = {}
    event = ev["event"] = dict(event)
    event.setdefault("original", line.text)
    event.setdefault("dataset", DATASET)
    event.setdefault("kind", "event")
    try:
        stamp = ev.get("@timestamp")
        ev["@timestamp"] = iso_time(parse_time(stamp) if stamp is not None else ctx.now)
    except (ValueError, OverflowError, OSError):
        ev["@timestamp"] = iso_time(ctx.now)
        ev.setdefault("tags", [])
        if isinstance(ev["tags"], list):
            ev["tags"].append("_invalid_timestamp")
    log = ev.get("log")
    if log is None or isinstance(log, dict):
        log = sub(ev, "log")
        log["offset"] = line.offset
        if ctx.path is not None:
            log["file"] = {"path": ctx.path}
        if line.flags:
            log["flags"] = list(line.flags)
    if ctx.host:
        host = ev.get("host")
        if host is None or isinstance(host, dict):
            sub(ev, "host").setdefault("name", ctx.host)
    return ev
