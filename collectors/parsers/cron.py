"""cron: commands run on schedule (`(root) CMD (…)`) and cron's PAM sessions."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.base import categorize, set_user, sub

_CMD = re.compile(r"^\((?P<user>[^)]+)\) CMD \((?P<command>.*)\)\s*$")
_OTHER = re.compile(r"^\((?P<user>[^)]+)\) (?P<what>[A-Z][A-Z ]+[A-Z])\b ?(?P<rest>.*)$")


def parse_message(msg: str, ev: dict[str, Any]) -> bool:
    if (m := _CMD.match(msg)) is not None:
        categorize(ev, action="cron_command", category="process", type_="start", outcome="success")
        set_user(ev, m["user"])
        sub(ev, "process")["command_line"] = m["command"]
        return True
    if (m := _OTHER.match(msg)) is not None:
        categorize(ev, action="cron_" + m["what"].lower().replace(" ", "_"), category="process", type_="info")
        set_user(ev, m["user"])
        return True
    return pam.parse_message(msg, ev)
