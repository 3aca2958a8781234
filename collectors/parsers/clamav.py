"""ClamAV (clamd, clamscan, freshclam, clamonacc): detections become malware alerts.

clamd writes `Tue Jan 14 10:00:00 2020 -> /srv/up/x.exe: Win.Test.EICAR_HDB-1(44d8…:68) FOUND`
to its own log, clamscan writes `/srv/up/x.exe: Win.Test.EICAR_HDB-1 FOUND`, and both can go
through syslog (`clamd[812]: …`).
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.base import MONTHS, Context, Line, categorize, iso_time, shell, sub

DATASET = "clamav.log"
_STAMPED = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>\w{3}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) "
    r"(?P<year>\d{4}) -> (?P<msg>.*)$"
)
_FOUND = re.compile(r"^(?P<path>.+?): (?P<sig>\S+?)(?:\((?P<hash>[0-9a-f]{32}):(?P<size>\d+)\))? FOUND$")
_ERROR = re.compile(r"^(?P<path>.+?): (?P<what>.+?) ERROR$")
_STATUS = re.compile(
    r"^(?:SelfCheck|Database|Reading databases|Loaded|Daemon|clamd|freshclam|"
    r"ClamAV update process|Limits|Listening|Received|Pid|Log|Not loading|"
    r"Scan|Max|Alert|Heuristic|Portable|ELF|Mail|OLE2|PDF|SWF|HTML|XMLDOCS|HWP3|"
    r"Self checking|Archive|Bytecode|Local|TCP|Socket|Setting|main\.c|daily\.c|"
    r"bytecode\.c|WARNING|ERROR|LibClamAV|Clamd|Database updated|Downloading)"
)


def parse(line: Line, ctx: Context) -> dict[str, Any] | None:
    """A clamd.log or clamscan line; None when it is neither."""
    m = _STAMPED.match(line.text)
    if m is not None:
        month = MONTHS.get(m["mon"])
        if month is None:
            return None
        try:
            stamp = ctx.stamp(int(m["year"]), month, int(m["day"]), m["time"])
        except ValueError:
            return None
        ev = shell(line, ctx, DATASET)
        ev["@timestamp"] = stamp
        ev["event"]["timezone"] = ctx.timezone
        msg = m["msg"]
    elif line.text.endswith(" FOUND") and _FOUND.match(line.text):
        ev = shell(line, ctx, DATASET)
        ev["@timestamp"] = iso_time(ctx.now)
        msg = line.text
    else:
        return None
    ev["message"] = msg
    sub(ev, "process")["name"] = "clamd"
    if not parse_message(msg, ev):
        ev.setdefault("tags", []).append("_clamav_message_unrecognized")
    return ev


def parse_message(msg: str, ev: dict[str, Any]) -> bool:
    if (m := _FOUND.match(msg)) is not None:
        categorize(ev, action="malware_detected", category="malware", type_="info", outcome="success")
        ev["event"]["kind"] = "alert"
        ev["event"]["dataset"] = DATASET
        file = sub(ev, "file")
        file["path"] = m["path"]
        file["name"] = m["path"].rsplit("/", 1)[-1]
        if m["hash"]:
            file["hash"] = {"md5": m["hash"]}
            file["size"] = int(m["size"])
        sub(ev, "rule")["name"] = m["sig"]
        sub(ev, "threat")["indicator"] = {"description": m["sig"]}
        return True
    if (m := _ERROR.match(msg)) is not None:
        categorize(ev, action="scan_error", category="malware", type_="error", outcome="failure")
        sub(ev, "file")["path"] = m["path"]
        sub(ev, "clamav")["error"] = m["what"]
        return True
    if msg.endswith(": OK") or msg.endswith(": Empty file"):
        categorize(ev, action="file_clean", category="malware", type_="info", outcome="success")
        sub(ev, "file")["path"] = msg.rsplit(": ", 1)[0]
        return True
    if _STATUS.match(msg):
        categorize(ev, action="clamav_status", category="malware", type_="info")
        return True
    return False
