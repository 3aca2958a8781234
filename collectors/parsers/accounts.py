"""Account management: useradd, usermod, userdel, groupadd, groupmod, groupdel, passwd, chpasswd."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.parsers import pam
from collectors.parsers.base import categorize, set_user, sub

_KV = re.compile(r"(\w+)=([^,]*)")
_Q = r"'(?P<{}>[^']*)'"


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + pattern.replace("USER", _Q.format("user")).replace("GROUP", _Q.format("group")))


# (pattern, action, type, what) — what: "user" or "group" decides event.type user/group.
_RULES: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(r"^new user: (?P<kv>.*)$"), "user_created", "creation", "user"),
    (re.compile(r"^new group: (?P<kv>.*)$"), "group_created", "creation", "group"),
    (re.compile(r"^group added to /etc/g?shadow: (?P<kv>.*)$"), "group_created", "creation", "group"),
    (re.compile(r"^group added to /etc/group: (?P<kv>.*)$"), "group_created", "creation", "group"),
    (_rule(r"add USER to (?:shadow )?group GROUP"), "user_added_to_group", "change", "user"),
    (_rule(r"delete USER from (?:shadow )?group GROUP"), "user_removed_from_group", "change", "user"),
    (_rule(r"(?:delete|remove) user USER"), "user_deleted", "deletion", "user"),
    (_rule(r"removed group GROUP owned by USER"), "group_deleted", "deletion", "group"),
    (_rule(r"group GROUP removed"), "group_deleted", "deletion", "group"),
    (_rule(r"group changed in /etc/group \(group GROUP"), "group_changed", "change", "group"),
    (_rule(r"change user USER password"), "password_changed", "change", "user"),
    (_rule(r"change user USER (?:shell|home|UID|GID|expiration|name)"), "user_changed", "change", "user"),
    (_rule(r"(?:lock|unlock) user USER password"), "user_changed", "change", "user"),
    (_rule(r"password for USER changed by '(?P<by>[^']*)'"), "password_changed", "change", "user"),
    (re.compile(r"^password changed for (?P<user>\S+)"), "password_changed", "change", "user"),
    (re.compile(r"^changed password expiry for (?P<user>\S+)"), "user_changed", "change", "user"),
]


def parse_message(msg: str, ev: dict[str, Any]) -> bool:
    for pattern, action, type_, what in _RULES:
        m = pattern.match(msg)
        if m is None:
            continue
        categorize(ev, action=action, category="iam", type_=type_, outcome="success")
        sub(ev, "event")["type"] = [what, type_]
        groups = m.groupdict()
        if groups.get("kv") is not None:
            _fields(ev, dict((k, v.strip()) for k, v in _KV.findall(groups["kv"])), what)
        set_user(ev, groups.get("user"))
        if groups.get("group"):
            sub(ev, "group")["name"] = groups["group"]
        if groups.get("by"):
            sub(ev, "user")["changes"] = {"name": groups["user"]}
            sub(ev, "user")["name"] = groups["by"]
        return True
    return pam.parse_message(msg, ev)


_FIELDS: dict[str, Callable[[dict[str, Any], str, str], None]] = {
    "UID": lambda ev, v, _w: sub(ev, "user").__setitem__("id", v),
    "GID": lambda ev, v, _w: sub(ev, "group").__setitem__("id", v),
    "home": lambda ev, v, _w: sub(sub(sub(ev, "system"), "auth"), "useradd").__setitem__("home", v),
    "shell": lambda ev, v, _w: sub(sub(sub(ev, "system"), "auth"), "useradd").__setitem__("shell", v),
    "name": lambda ev, v, w: sub(ev, w).__setitem__("name", v),
}


def _fields(ev: dict[str, Any], kv: dict[str, str], what: str) -> None:
    for key, value in kv.items():
        setter = _FIELDS.get(key)
        if setter is not None and value:
            setter(ev, value, what)
