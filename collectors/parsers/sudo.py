"""sudo: who ran which command as whom, and refusals (`user NOT in sudoers`, wrong passwords)."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.base import categorize, set_user, sub

_COMMAND = re.compile(
    r"^\s*(?P<user>\S+) : (?:(?P<error>[^;=]*?) ; )?(?P<fields>(?:TTY|PWD|USER|GROUP|ENV|COMMAND)=.*)$"
)
_FIELD = re.compile(r"(TTY|PWD|USER|GROUP|ENV|COMMAND)=(.*?)(?= ; (?:TTY|PWD|USER|GROUP|ENV|COMMAND)=|$)")


def parse_message(msg: str, ev: dict[str, Any]) -> bool:
    m = _COMMAND.match(msg)
    if m is None:
        return pam.parse_message(msg, ev)
    fields = dict(_FIELD.findall(m["fields"]))
    error = m["error"]
    categorize(
        ev,
        action="sudo_command" if not error else "sudo_refused",
        category="process",
        type_="start" if not error else "denied",
        outcome="failure" if error else "success",
    )
    set_user(ev, m["user"])
    if fields.get("USER"):
        sub(ev, "user")["effective"] = {"name": fields["USER"]}
    process = sub(ev, "process")
    if fields.get("COMMAND"):
        process["command_line"] = fields["COMMAND"]
        process["executable"] = fields["COMMAND"].split(" ", 1)[0]
    if fields.get("PWD"):
        process["working_directory"] = fields["PWD"]
    sudo = sub(sub(sub(ev, "system"), "auth"), "sudo")
    for key in ("TTY", "PWD", "USER", "COMMAND"):
        if key in fields:
            sudo[key.lower()] = fields[key]
    if error:
        sudo["error"] = error.strip()
    return True
