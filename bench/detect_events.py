"""Synthetic ECS events for the detection benchmarks, spread over the datasets our rules read.

Most events are benign traffic of each dataset (ssh logins, cron, auditd execve of everyday tools,
web requests, clean antivirus scans, DNS lookups, connections, proxy requests). About 2% are the
match and near-miss events of the bundled rules' cases files, so some rules fire and others come
close without firing. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from soc.detect.model import Rule

T0 = datetime(2026, 11, 27, tzinfo=UTC)
DATASETS = (
    "system.auth", "system.syslog", "auditd.log", "nginx.access", "apache.access", "clamav.log",
    "network.dns", "network.conn", "squid.access",
)  # fmt: skip
USERS = ["root", "admin", "deploy", "oracle", "nguyen.van.a", "tran.thi.b", "www-data", "postgres"]
PATHS = ["/", "/tin-tuc", "/dich-vu-cong/ho-so", "/login", "/api/v1/search?q=a", "/static/app.js"]
COMMANDS = [
    ["ls", "-la", "/var/www"], ["ps", "aux"], ["grep", "-r", "error", "/var/log/app"], ["df", "-h"],
    ["python3", "/opt/app/manage.py", "migrate"], ["systemctl", "status", "nginx"], ["id"],
    ["tar", "czf", "/backup/www.tgz", "/var/www"], ["cat", "/etc/hostname"], ["crontab", "-l"],
]  # fmt: skip
NAMES = ["cantho.gov.vn", "dichvucong.gov.vn", "google.com", "update.ubuntu.com", "github.com"]


def applicable(rules: Sequence[Rule]) -> list[Rule]:
    """The rules that read only datasets we generate (correlations whose inputs all do)."""
    ours = set(DATASETS)
    by_id = {r.id: r for r in rules}
    singles = [r for r in rules if r.correlation is None and r.datasets and set(r.datasets) <= ours]
    keep = {r.id for r in singles}
    corr = [
        r
        for r in rules
        if r.correlation is not None and all(by_id[i].id in keep for i in r.correlation.rules if i in by_id)
    ]
    return singles + corr


def case_events(root: Path) -> list[dict[str, Any]]:
    """Every match, no_match and scenario event of the cases files under `root`."""
    out: list[dict[str, Any]] = []
    for path in sorted(root.rglob("*.cases.yml")):
        spec = yaml.safe_load(path.read_text()) or {}
        events = list(spec.get("match") or []) + list(spec.get("no_match") or [])
        for scenario in spec.get("scenarios") or []:
            events += list(scenario.get("events") or [])
        out += [dict(e) for e in events if isinstance(e, dict) and _dataset(e) in DATASETS]
    return out


def _dataset(doc: dict[str, Any]) -> Any:
    return doc.get("event.dataset") or dict(doc.get("event") or {}).get("dataset")


def make_events(n: int, cases: Sequence[dict[str, Any]], seed: int = 11) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        at = (T0 + timedelta(milliseconds=i * 37)).isoformat().replace("+00:00", "Z")
        if cases and rnd.random() < 0.02:
            doc = dict(rnd.choice(cases))
            doc["@timestamp"] = at
            doc["bench.seq"] = i  # a distinct event (and id) each time a case is reused
        else:
            doc = _benign(rnd, DATASETS[i % len(DATASETS)], i)
            doc["@timestamp"] = at
        doc.setdefault("host.name", f"srv{rnd.randint(1, 300):03d}.cantho.gov.vn")
        out.append(doc)
    return out


def _ip(rnd: random.Random) -> str:
    return f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"


def _benign(rnd: random.Random, dataset: str, i: int) -> dict[str, Any]:
    ip, user = _ip(rnd), rnd.choice(USERS)
    doc: dict[str, Any] = {"event.dataset": dataset}
    if dataset == "system.auth":
        word = rnd.choice(["Failed", "Accepted"])
        msg = f"{word} password for {user} from {ip} port {rnd.randint(1024, 65535)} ssh2"
        doc |= {"process.name": "sshd", "user.name": user, "source.ip": ip,
                "event.outcome": "failure" if word == "Failed" else "success"}  # fmt: skip
    elif dataset == "system.syslog":
        msg = rnd.choice([f"({user}) CMD (run-parts /etc/cron.hourly)", "Started Daily apt upgrade."])
        doc |= {"process.name": rnd.choice(["CRON", "systemd"])}
    elif dataset == "auditd.log":
        argv = rnd.choice(COMMANDS)
        msg = " ".join(argv)
        doc |= {"auditd.message_type": "EXECVE", "process.name": argv[0], "process.args": argv,
                "process.command_line": msg, "process.executable": f"/usr/bin/{argv[0]}",
                "process.pid": rnd.randint(100, 65000), "user.name": user}  # fmt: skip
    elif dataset in ("nginx.access", "apache.access"):
        path = rnd.choice(PATHS)
        status = rnd.choice([200, 200, 304, 404, 500])
        msg = f'{ip} - - "GET {path} HTTP/1.1" {status} 512 "-" "Mozilla/5.0"'
        doc |= {"source.ip": ip, "url.original": path, "http.request.method": "GET",
                "http.response.status_code": status,
                "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)"}  # fmt: skip
    elif dataset == "clamav.log":
        msg = f"/home/{user}/upload/{i}.pdf: OK"
        doc |= {"process.name": "clamd", "file.path": f"/home/{user}/upload/{i}.pdf"}
    elif dataset == "network.dns":
        name = f"{rnd.choice(['www', 'mail', 'api'])}.{rnd.choice(NAMES)}"
        msg = f"query: {name} IN A"
        doc |= {"dns.question.name": name, "dns.question.type": "A", "source.ip": f"10.20.0.{i % 250 + 1}"}
    elif dataset == "network.conn":
        port = rnd.choice([443, 80, 53, 22])
        msg = f"10.20.0.{i % 250 + 1} -> {ip}:{port}"
        doc |= {"source.ip": f"10.20.0.{i % 250 + 1}", "destination.ip": ip, "destination.port": port,
                "network.transport": "tcp"}  # fmt: skip
    else:
        url = f"https://{rnd.choice(NAMES)}{rnd.choice(PATHS)}"
        msg = f"TCP_MISS/200 GET {url}"
        doc |= {"url.original": url, "http.request.method": "GET", "source.ip": f"10.20.0.{i % 250 + 1}",
                "user_agent.original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}  # fmt: skip
    doc["message"] = msg
    doc["event.original"] = msg
    return doc
