"""What every parser shares: the line being parsed, the parse context (zone, year, host) and event shells.

A parser is a function `(line, ctx) -> event | None`; None means "not my format", and the caller
tries the next one or falls back to a generic event. Parsers never raise on bad input: the
registry wraps each call, so a bug in one parser still yields a kept, flagged event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from ipaddress import ip_address
from typing import Any
from zoneinfo import ZoneInfo

from soc.ecs import format_time

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
UNPARSED = "soc.unparsed"
_OFFSET = re.compile(r"^[+-]\d\d:?\d\d$")


@dataclass(slots=True)
class Line:
    """One log record: text without its final line terminator, byte offset of its first byte."""

    text: str
    offset: int
    flags: tuple[str, ...] = ()


@dataclass
class Context:
    """What a parser needs besides the line: where it came from and how to read year-less dates."""

    timezone: str = "Asia/Ho_Chi_Minh"
    year: int | None = None
    host: str | None = None
    path: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    tz: tzinfo = field(init=False)
    _year: int | None = field(default=None, init=False)
    _last_month: int | None = field(default=None, init=False)
    _minutes: dict[tuple[int, int, int, str], str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.tz = zone(self.timezone)

    def year_for(self, month: int, day: int) -> int:
        """The year of a year-less date (RFC 3164, clamd): no date lies in the future.

        With an explicit year, that is the first line's year and a jump back from late to early
        months (December → January) moves to the next year, so a file that crosses New Year
        keeps its order.
        """
        if self.year is not None:
            if self._year is None:
                self._year = self.year
            elif self._last_month is not None and month < self._last_month - 6:
                self._year += 1
            self._last_month = month
            return self._year
        today = self.now.astimezone(self.tz).date()
        year = today.year
        if _safe_date(year, month, day) > today + timedelta(days=1):
            year -= 1
        return year

    def local(self, year: int, month: int, day: int, hms: str) -> datetime:
        """A wall-clock time in the configured zone; `hms` is HH:MM:SS[.ffffff]."""
        if len(hms) == 8:  # the usual HH:MM:SS: slices, no splitting
            h, m, s, micro = int(hms[:2]), int(hms[3:5]), int(hms[6:]), 0
        else:
            whole, _, frac = hms.partition(".")
            h, m, s = (int(x) for x in whole.split(":"))
            micro = int((frac + "000000")[:6]) if frac else 0
        if month == 2 and day == 29:
            year = _leap_at_or_before(year)
        return datetime(year, month, day, h, m, s, micro, tzinfo=self.tz)

    def stamp(self, year: int, month: int, day: int, hms: str) -> str:
        """`iso_time(self.local(year, month, day, hms))`, from the UTC form of each local minute.

        A log's lines share their minutes, and converting a wall-clock time through a zone is the
        dearest part of a syslog line; the minute's `YYYY-MM-DDTHH:MM:` is kept instead and the
        seconds appended. Only for whole seconds in zones whose offset is whole minutes (every
        zone today; not some pre-1900 local mean times), which the long way handles.
        """
        seconds = hms[6:]
        if len(hms) != 8 or not hms.isascii() or not seconds.isdigit() or seconds > "59":
            return iso_time(self.local(year, month, day, hms))
        key = (year, month, day, hms[:5])
        head = self._minutes.get(key)
        if head is None:
            at = self.local(year, month, day, hms[:6] + "00")
            offset = at.utcoffset()
            if offset is None or offset.seconds % 60 or offset.microseconds:
                return iso_time(self.local(year, month, day, hms))
            if len(self._minutes) >= 4096:
                self._minutes.clear()
            head = self._minutes[key] = iso_time(at)[:17]
        return f"{head}{seconds}.000Z"


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z"):
        return UTC
    if _OFFSET.match(name):
        sign = -1 if name[0] == "-" else 1
        digits = name[1:].replace(":", "")
        from datetime import timezone as fixed

        return fixed(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return ZoneInfo(name)


def _safe_date(year: int, month: int, day: int) -> date:
    if month == 2 and day == 29:
        year = _leap_at_or_before(year)
    return date(year, month, day)


def _leap_at_or_before(year: int) -> int:
    while not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        year -= 1
    return year


def iso_time(at: datetime) -> str:
    """As soc.ecs.format_time (UTC, milliseconds, Z), through C's isoformat for aware times."""
    if at.tzinfo is None:
        return format_time(at)
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.isoformat(timespec="milliseconds")[:-6] + "Z"


def shell(line: Line, ctx: Context, dataset: str) -> dict[str, Any]:
    """The fields every event carries: original text, dataset, offset, file, flags, collector host."""
    log: dict[str, Any] = {"offset": line.offset}
    if ctx.path is not None:
        log["file"] = {"path": ctx.path}
    if line.flags:
        log["flags"] = list(line.flags)
    ev: dict[str, Any] = {
        "event": {"original": line.text, "dataset": dataset, "kind": "event"},
        "log": log,
    }
    if ctx.host:
        ev["host"] = {"name": ctx.host}
    return ev


def unparsed(line: Line, ctx: Context, reason: str, tag: str = "_unparsed") -> dict[str, Any]:
    """A line nobody understood: kept whole, with the reason, stamped with the collection time."""
    ev = shell(line, ctx, UNPARSED)
    ev["@timestamp"] = iso_time(ctx.now)
    ev["message"] = line.text
    ev["error"] = {"message": reason}
    ev["tags"] = [tag]
    return ev


def sub(ev: dict[str, Any], key: str) -> dict[str, Any]:
    """The object at `key`, created when missing (nested ECS objects without dotted keys)."""
    node = ev.get(key)
    if node is None:
        node = ev[key] = {}
    assert isinstance(node, dict)
    return node


def categorize(
    ev: dict[str, Any],
    *,
    action: str,
    category: str | None = None,
    type_: str | None = None,
    outcome: str | None = None,
) -> None:
    event = sub(ev, "event")
    event["action"] = action
    if category:
        event["category"] = [category]
    if type_:
        event["type"] = [type_]
    if outcome:
        event["outcome"] = outcome


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""Dotted IPv4 as `ipaddress` accepts it: ASCII digits, 0-255, no leading zeros."""


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 address, as `ipaddress` decides; dotted IPv4 by one regex, no object built."""
    return _IPV4.fullmatch(text) is not None or _is_ip(text)


@lru_cache(maxsize=4096)
def _is_ip(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def set_source(ev: dict[str, Any], host: str, port: str | None = None) -> None:
    """source.ip when `host` is an address, source.domain otherwise; source.port when numeric."""
    source = sub(ev, "source")
    if is_ip(host):
        source["ip"] = host
    elif host and host not in ("?", "-", "UNKNOWN"):
        source["domain"] = host
    if port and port.isdigit():
        source["port"] = int(port)


def set_user(ev: dict[str, Any], name: str | None) -> None:
    if name and name not in ("-", "?", "(unknown)"):
        sub(ev, "user")["name"] = name


Parser = Callable[[Line, Context], "dict[str, Any] | None"]
MessageParser = Callable[[str, dict[str, Any]], bool]
"""Parses the message part of a syslog line into `ev` (already holding the header); True if known."""
