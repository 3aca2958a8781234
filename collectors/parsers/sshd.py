"""OpenSSH server messages: logins accepted and failed, invalid users, disconnects, pre-auth noise."""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import pam
from collectors.parsers.base import categorize, set_source, set_user, sub

_ADDR = r"(?P<ip>[0-9A-Fa-f:.]+|\S+)"
_LOGIN = re.compile(
    r"^(?P<verdict>Accepted|Failed|Postponed) (?P<method>[\w/-]+) for (?P<invalid>invalid user )?"
    r"(?P<user>.*?) from " + _ADDR + r" port (?P<port>\d+)(?: ssh2)?(?:: (?P<sig>.*))?$"
)
_INVALID = re.compile(r"^[Ii]nvalid user (?P<user>.*?) from " + _ADDR + r"(?: port (?P<port>\d+))?\s*$")
_USERAUTH = re.compile(r"^input_userauth_request: invalid user (?P<user>.*?)(?: \[preauth\])?$")
_DISCONNECT = re.compile(
    r"^(?:error: )?Received disconnect from " + _ADDR + r"(?: port (?P<port>\d+))?:\s*(?P<code>\d+): ?"
    r"(?P<reason>.*?)(?: \[preauth\])?$"
)
_DISCONNECTED = re.compile(
    r"^Disconnected from (?:(?:invalid |authenticating )?user (?P<user>\S+) )?"
    + _ADDR
    + r" port (?P<port>\d+)"
)
_CLOSED = re.compile(
    r"^Connection (?P<how>closed|reset) by (?:(?:invalid |authenticating )?user (?P<user>\S+) )?"
    + _ADDR
    + r"(?: port (?P<port>\d+))?"
)
_NO_ID = re.compile(r"^Did not receive identification string from " + _ADDR + r"(?: port (?P<port>\d+))?")
_REVERSE = re.compile(
    r"^(?:reverse mapping checking getaddrinfo for|Address) (?P<name>\S+) \[?(?P<ip>[0-9A-Fa-f:.]+)\]? "
    r"(?:failed|maps to)"
)
_TOO_MANY = re.compile(
    r"^(?:error: )?(?:maximum authentication attempts exceeded for|Disconnecting:? "
    r"Too many authentication failures for) (?:invalid user )?(?P<user>\S+)"
)
_REPEATED = re.compile(r"^message repeated (?P<n>\d+) times: \[ ?(?P<inner>.*?) ?\]$")
_CONNECTION = re.compile(r"^Connection from " + _ADDR + r" port (?P<port>\d+)")
_FATAL = re.compile(r"^(?:fatal|error): (?P<what>.*?)(?: \[preauth\])?$")
_LISTENING = re.compile(r"^Server listening on (?P<ip>\S+) port (?P<port>\d+)")


def parse_message(msg: str, ev: dict[str, Any]) -> bool:
    if (m := _LOGIN.match(msg)) is not None:
        ok = m["verdict"] == "Accepted"
        categorize(
            ev,
            action="ssh_login",
            category="authentication",
            type_="start" if ok else "info",
            outcome="success" if ok else "failure",
        )
        set_user(ev, m["user"])
        set_source(ev, m["ip"], m["port"])
        ssh = sub(sub(sub(ev, "system"), "auth"), "ssh")
        ssh["event"], ssh["method"] = m["verdict"], m["method"]
        if m["sig"]:
            ssh["signature"] = m["sig"]
        if m["invalid"]:
            ssh["invalid_user"] = True
        return True
    if (m := _INVALID.match(msg)) is not None:
        categorize(ev, action="ssh_login", category="authentication", type_="info", outcome="failure")
        set_user(ev, m["user"])
        set_source(ev, m["ip"], m["port"])
        sub(sub(sub(ev, "system"), "auth"), "ssh")["event"] = "Invalid"
        return True
    if (m := _USERAUTH.match(msg)) is not None:
        categorize(ev, action="invalid_user", category="authentication", type_="info", outcome="failure")
        set_user(ev, m["user"])
        return True
    if (m := _DISCONNECT.match(msg)) is not None:
        categorize(ev, action="ssh_disconnect", category="session", type_="end")
        set_source(ev, m["ip"], m["port"])
        sub(sub(sub(ev, "system"), "auth"), "ssh")["disconnect_reason"] = m["reason"]
        return True
    if (m := _DISCONNECTED.match(msg)) is not None or (m := _CLOSED.match(msg)) is not None:
        categorize(ev, action="ssh_disconnect", category="session", type_="end")
        set_user(ev, m["user"])
        set_source(ev, m["ip"], m["port"])
        return True
    if (m := _NO_ID.match(msg)) is not None:
        categorize(ev, action="ssh_no_identification", category="network", type_="info", outcome="failure")
        set_source(ev, m["ip"], m["port"])
        return True
    if (m := _REVERSE.match(msg)) is not None:
        categorize(ev, action="ssh_reverse_mapping_failed", category="network", type_="info")
        set_source(ev, m["ip"])
        sub(ev, "source")["domain"] = m["name"]
        return True
    if (m := _TOO_MANY.match(msg)) is not None:
        categorize(
            ev, action="ssh_too_many_failures", category="authentication", type_="info", outcome="failure"
        )
        set_user(ev, m["user"])
        return True
    if (m := _REPEATED.match(msg)) is not None:
        if parse_message(m["inner"], ev):
            sub(sub(ev, "system"), "auth")["repeated"] = int(m["n"])
            return True
        return False
    if (m := _CONNECTION.match(msg)) is not None:
        categorize(ev, action="ssh_connection", category="network", type_="start")
        set_source(ev, m["ip"], m["port"])
        return True
    if (m := _LISTENING.match(msg)) is not None:
        categorize(ev, action="ssh_listening", category="process", type_="info")
        return True
    if pam.parse_message(msg, ev):
        return True
    if (m := _FATAL.match(msg)) is not None:
        categorize(ev, action="ssh_error", category="network", type_="error", outcome="failure")
        return True
    return False
