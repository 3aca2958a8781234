"""PAM messages, whichever program logged them: `pam_unix(sshd:auth): authentication failure; …`.

Linux-PAM writes the module and service in front (`pam_unix(su:session): …`); old syslogs put them
in the program tag instead (`sshd(pam_unix)[42]: authentication failure; …`), so the prefix is
optional here.
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.base import categorize, set_source, set_user, sub

_PREFIX = re.compile(r"^(?P<module>pam_\w+)\((?P<service>[^:)]+)(?::(?P<kind>\w+))?\): ")
_KV = re.compile(r"(\w+)=(\S*)")
_SESSION = re.compile(
    r"^session (?P<what>opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?"
    r"(?: by (?P<by>[^\s(]*)(?:\(uid=(?P<uid>\d+)\))?)?"
)
_MORE = re.compile(r"^PAM (?P<n>\d+) more authentication failures?; (?P<kv>.*)$")
_MAX = re.compile(r"^PAM service\((?P<service>[^)]+)\) ignoring max retries; (?P<n>\d+) > (?P<max>\d+)")
_REQUIREMENT = re.compile(r'^requirement "(?P<req>[^"]*)" (?:not )?(?:met|was met) by user "(?P<user>[^"]*)"')
_PASSWORD = re.compile(r"^password changed for (?P<user>\S+)")


def parse_message(msg: str, ev: dict[str, Any]) -> bool:
    m = _PREFIX.match(msg)
    if m:
        msg = msg[m.end() :]
        sub(ev, "pam")["module"] = m["module"]
        if m["service"]:
            sub(ev, "pam")["service"] = m["service"]
    if msg.startswith("authentication failure;"):
        kv = dict(_KV.findall(msg))
        categorize(
            ev, action="authentication_failure", category="authentication", type_="info", outcome="failure"
        )
        _remote(ev, kv)
        return True
    if msg.startswith("check pass; user unknown"):
        categorize(ev, action="check_pass", category="authentication", type_="info", outcome="failure")
        return True
    if (s := _SESSION.match(msg)) is not None:
        opened = s["what"] == "opened"
        categorize(
            ev,
            action=f"session_{s['what']}",
            category="session",
            type_="start" if opened else "end",
            outcome="success",
        )
        set_user(ev, s["user"])
        if s["by"]:
            sub(ev, "user")["effective"] = {"name": s["user"]}
            sub(ev, "user")["name"] = s["by"]
        return True
    if (more := _MORE.match(msg)) is not None:
        categorize(
            ev, action="authentication_failure", category="authentication", type_="info", outcome="failure"
        )
        _remote(ev, dict(_KV.findall(more["kv"])))
        return True
    if _MAX.match(msg):
        categorize(
            ev, action="max_retries_exceeded", category="authentication", type_="info", outcome="failure"
        )
        return True
    if (req := _REQUIREMENT.match(msg)) is not None:
        categorize(
            ev, action="requirement_not_met", category="authentication", type_="info", outcome="failure"
        )
        set_user(ev, req["user"])
        return True
    if (pw := _PASSWORD.match(msg)) is not None:
        categorize(ev, action="password_changed", category="iam", type_="change", outcome="success")
        set_user(ev, pw["user"])
        return True
    return False


def _remote(ev: dict[str, Any], kv: dict[str, str]) -> None:
    if kv.get("rhost"):
        set_source(ev, kv["rhost"])
    set_user(ev, kv.get("user"))
