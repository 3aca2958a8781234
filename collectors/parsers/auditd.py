"""Linux audit records (`/var/log/audit/audit.log`): SYSCALL, EXECVE, PROCTITLE, USER_* and the rest.

Every key=value pair is kept under `auditd.log` (what Sigma's auditd rules name: `type`, `syscall`,
`exe`, `a0`, `key`…), hex-encoded values decoded; the usual ones are also mapped to ECS
(`process.*`, `user.*`, `source.*`, `event.outcome`). Each record is one event, as in Filebeat's
auditd module; records of one event share `auditd.log.sequence`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from collectors.parsers.base import Context, Line, categorize, is_ip, iso_time, shell, sub

DATASET = "auditd.log"
_HEADER = re.compile(
    r"^(?:node=(?P<node>\S+) )?type=(?P<type>\w+) msg=audit\((?P<ts>\d+(?:\.\d+)?):(?P<seq>\d+)\):\s?"
)
_KV = re.compile(r"""(?P<key>[\w-]+)=(?P<value>"[^"]*"|'[^']*'|\S*)""")
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
_ENCODED = frozenset({"proctitle", "cmd", "acct", "comm", "exe", "cwd", "name", "key", "data", "old", "new"})
_AUTH = frozenset(
    {
        "USER_AUTH",
        "USER_LOGIN",
        "USER_ERR",
        "USER_ACCT",
        "CRED_ACQ",
        "CRED_REFR",
        "CRED_DISP",
        "USER_CHAUTHTOK",
        "ANOM_LOGIN_FAILURES",
        "LOGIN",
    }
)
_SESSION = {"USER_START": "start", "USER_END": "end"}
_IAM = frozenset(
    {
        "ADD_USER",
        "DEL_USER",
        "ADD_GROUP",
        "DEL_GROUP",
        "USER_MGMT",
        "GRP_MGMT",
        "ACCT_LOCK",
        "ACCT_UNLOCK",
        "USER_CHAUTHTOK",
    }
)


def parse(line: Line, ctx: Context) -> dict[str, Any] | None:
    text = line.text.split("\x1d", 1)[0]  # ENRICHED format appends translated fields after GS
    m = _HEADER.match(text)
    if m is None:
        return None
    kind = m["type"]
    values: dict[str, Any] = {}
    for k, v in _pairs(text[m.end() :], kind):
        if k == "msg" and "=" in v:
            for ik, iv in _pairs(v, kind):
                values.setdefault(ik, iv)
            continue
        values[k] = v
    ev = shell(line, ctx, DATASET)
    ev["@timestamp"] = iso_time(datetime.fromtimestamp(float(m["ts"]), UTC))
    values.update(record_type=kind, sequence=int(m["seq"]))
    if m["node"]:
        values["node"] = m["node"]
        sub(ev, "host").setdefault("hostname", m["node"])
    ev["auditd"] = {"log": values}
    ev["event"]["action"] = kind.lower()
    ev["event"]["sequence"] = int(m["seq"])
    _map(ev, kind, values)
    return ev


def _pairs(text: str, kind: str) -> list[tuple[str, str]]:
    out = []
    for p in _KV.finditer(text):
        key, value = p["key"], p["value"]
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        elif (key in _ENCODED or (kind == "EXECVE" and key[:1] == "a" and key[1:].isdigit())) and _HEX.match(
            value
        ):
            value = bytes.fromhex(value).decode("utf-8", "replace").replace("\x00", " ").strip()
        out.append((key, value))
    return out


def _number(value: Any) -> int | None:
    """A field of ASCII digits as a number (`str.isdigit` also takes '²' and other digits)."""
    text = str(value) if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() else None


def _map(ev: dict[str, Any], kind: str, v: dict[str, Any]) -> None:
    process: dict[str, Any] = {}
    for key, field in (("pid", "pid"), ("ppid", "parent")):
        if (number := _number(v.get(key))) is not None:
            process[field] = number if field == "pid" else {"pid": number}
    if v.get("comm"):
        process["name"] = v["comm"]
    if v.get("exe"):
        process["executable"] = v["exe"]
    if kind == "EXECVE":
        # at most as many arguments as the record has fields, whatever its argc claims
        argc = min(_number(v.get("argc")) or 0, len(v))
        args = [v[f"a{i}"] for i in range(argc) if f"a{i}" in v]
        if args:
            process["args"], process["args_count"] = args, len(args)
            process["command_line"] = " ".join(args)
        categorize(ev, action="executed", category="process", type_="start")
    elif kind == "PROCTITLE" and v.get("proctitle"):
        process["command_line"] = v["proctitle"]
    elif kind == "USER_CMD" and v.get("cmd"):
        process["command_line"] = v["cmd"]
        categorize(ev, action="ran_command", category="process", type_="start")
    if process:
        ev["process"] = process
    user: dict[str, Any] = {}
    if _id(v.get("uid")):
        user["id"] = v["uid"]
    if _id(v.get("auid")):
        user["audit"] = {"id": v["auid"]}
    if _id(v.get("euid")) and v.get("euid") != v.get("uid"):
        user["effective"] = {"id": v["euid"]}
    if v.get("acct") and v["acct"] not in ("?", "(unknown)"):
        user["name"] = v["acct"]
    if user:
        ev["user"] = user
    if _id(v.get("gid")):
        ev["group"] = {"id": v["gid"]}
    addr = v.get("addr")
    if addr and is_ip(addr):
        ev["source"] = {"ip": addr}
    elif v.get("hostname") and v["hostname"] not in ("?", "-"):
        ev["source"] = {"domain": v["hostname"]}
    outcome = {"yes": "success", "success": "success", "no": "failure", "failed": "failure"}
    result = outcome.get(str(v.get("res", v.get("success", ""))).lower())
    if result:
        ev["event"]["outcome"] = result
    if kind in _AUTH:
        ev["event"].update(category=["authentication"], type=["info"])
    elif kind in _SESSION:
        ev["event"].update(category=["session"], type=[_SESSION[kind]])
    elif kind in _IAM:
        ev["event"].update(category=["iam"], type=["change"])
    elif kind == "SYSCALL":
        ev["event"].update(category=["process"], type=["info"])


def _id(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit() and value != "4294967295"
