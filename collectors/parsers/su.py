"""su: switching user, in the formats of util-linux, shadow-utils and busybox."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.base import categorize, set_user, sub

_RESULT = re.compile(r"^(?P<verdict>Successful|FAILED) su for (?P<target>\S+) by (?P<user>\S+)")
_SHORT = re.compile(r"^(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^:\s]+):(?P<target>\S+)")
_TO = re.compile(r"^(?P<failed>FAILED SU )?\(to (?P<target>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)")
_PAM_AUTH = re.compile(r"^pam_authenticate: (?P<what>.*)")


def parse_message(msg: str, ev: dict[str, Any]) -> bool:
    if (m := _RESULT.match(msg)) is not None:
        _switch(ev, m["user"], m["target"], ok=m["verdict"] == "Successful")
        return True
    if (m := _SHORT.match(msg)) is not None:
        _switch(ev, m["user"], m["target"], ok=m["sign"] == "+")
        sub(ev, "process")["tty"] = {"name": m["tty"]}
        return True
    if (m := _TO.match(msg)) is not None:
        _switch(ev, m["user"], m["target"], ok=not m["failed"])
        return True
    if (m := _PAM_AUTH.match(msg)) is not None:
        ok = "success" in m["what"].lower()
        categorize(
            ev,
            action="su_authentication",
            category="authentication",
            type_="info",
            outcome="success" if ok else "failure",
        )
        return True
    return pam.parse_message(msg, ev)


def _switch(ev: dict[str, Any], user: str, target: str, *, ok: bool) -> None:
    categorize(
        ev,
        action="su",
        category="authentication",
        type_="start" if ok else "info",
        outcome="success" if ok else "failure",
    )
    set_user(ev, user)
    sub(ev, "user")["effective"] = {"name": target}
