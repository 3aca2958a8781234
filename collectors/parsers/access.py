"""The access-log line nginx and Apache share (common / combined), with nginx's extras.

Client address: nginx configs often log an X-Forwarded-For list before the peer address
(`"10.5.1.2, 199.96.1.1" 10.2.1.185 - - [...]`). Following Filebeat, `source.ip` is the first
address outside 10/8, 172.16/12, 192.168/16 and 127/8 (IPv6 counts as public), else the first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from ipaddress import IPv4Address, ip_address
from typing import Any

from collectors.parsers.base import MONTHS, Context, Line, is_ip, iso_time, shell, sub

LINE = re.compile(
    r"^(?P<addr>.+?) (?P<ident>\S+) (?P<user>\S+) \[(?P<day>\d\d)/(?P<mon>\w{3})/(?P<year>\d{4}):"
    r"(?P<time>\d\d:\d\d:\d\d) ?(?P<zone>[+-]\d{4})?\] "
    r'"(?P<req>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<ref>(?:[^"\\]|\\.)*)"(?: "(?P<ua>(?:[^"\\]|\\.)*)")?)?(?P<rest>.*)$'
)
_REQUEST = re.compile(r"^(?P<method>[A-Za-z]+) (?P<url>\S+)(?: HTTP/(?P<version>[\d.]+))?$")
_SPLIT = re.compile(r'[\s,"]+')
_PRIVATE = [("10.0.0.0", 8), ("172.16.0.0", 12), ("192.168.0.0", 16), ("127.0.0.0", 8)]
_NETS = [(int(IPv4Address(a)) >> (32 - n), n) for a, n in _PRIVATE]


def parse(line: Line, ctx: Context, dataset: str) -> dict[str, Any] | None:
    m = LINE.match(line.text)
    if m is None or (month := MONTHS.get(m["mon"])) is None:
        return None
    try:
        at = _time(int(m["year"]), month, int(m["day"]), m["time"], m["zone"], ctx)
    except ValueError:
        return None
    ev = shell(line, ctx, dataset)
    ev["@timestamp"] = iso_time(at)
    if m["zone"] is None:
        ev["event"]["timezone"] = ctx.timezone
    ev["event"].update(category=["web"], type=["access"], action="http_request")
    _client(ev, m["addr"])
    if m["user"] != "-":
        sub(ev, "user")["name"] = m["user"]
    http: dict[str, Any] = {}
    response: dict[str, Any] = {}
    if m["status"] != "-":
        response["status_code"] = int(m["status"])
        ev["event"]["outcome"] = "failure" if int(m["status"]) >= 400 else "success"
    if m["bytes"] != "-":
        response["body"] = {"bytes": int(m["bytes"])}
    if response:
        http["response"] = response
    req = _REQUEST.match(m["req"])
    if req is not None:
        http["request"] = {"method": req["method"].upper()}
        if req["version"]:
            http["version"] = req["version"]
        _url(ev, req["url"])
    if m["ref"] is not None and m["ref"] != "-":
        http.setdefault("request", {})["referrer"] = m["ref"]
    if http:
        ev["http"] = http
    if m["ua"] is not None and m["ua"] != "-":
        ev["user_agent"] = {"original": m["ua"]}
    return ev


def _time(year: int, month: int, day: int, hms: str, zone: str | None, ctx: Context) -> datetime:
    h, mi, s = (int(x) for x in hms.split(":"))
    if zone is None:
        return datetime(year, month, day, h, mi, s, tzinfo=ctx.tz)
    sign = -1 if zone[0] == "-" else 1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    tz = UTC if not offset else timezone(sign * offset)
    return datetime(year, month, day, h, mi, s, tzinfo=tz)


def _client(ev: dict[str, Any], addr: str) -> None:
    tokens = [t for t in _SPLIT.split(addr) if t]
    source = sub(ev, "source")
    if tokens and all(is_ip(t) for t in tokens):
        chosen = next((t for t in tokens if not _private(t)), tokens[0])
        source["address"] = chosen
        source["ip"] = chosen
        if len(tokens) > 1:
            ev["related"] = {"ip": tokens}
        return
    source["address"] = addr.strip('"')
    if len(tokens) == 1 and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", tokens[0]):
        source["domain"] = tokens[0]


def _private(text: str) -> bool:
    address = ip_address(text)
    if address.version != 4:
        return False
    value = int(address)
    return any(value >> (32 - n) == prefix for prefix, n in _NETS)


def _url(ev: dict[str, Any], original: str) -> None:
    url: dict[str, Any] = {"original": original}
    target = original
    if "://" in original:
        scheme, _, rest = original.partition("://")
        url["scheme"] = scheme
        domain, slash, target = rest.partition("/")
        url["domain"] = domain
        target = slash + target
    path, question, query = target.partition("?")
    if path:
        url["path"] = path
    if question:
        url["query"] = query
    ev["url"] = url
