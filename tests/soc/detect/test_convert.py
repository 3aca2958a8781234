"""Sigma semantics through our converter: one corpus, the same answer on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc.detect.rules import load_rules
from soc.store.base import EventStore, scan

EVENTS = [
    {"message": "Failed password for ROOT from 203.0.113.9", "process": {"command_line": "wget http://x/a.sh"},
     "source": {"ip": "203.0.113.9"}, "destination": {"port": 22}, "user": {"name": "Đức"}},
    {"message": "Accepted password for alice", "process": {"command_line": "curl -O http://x/b"},
     "source": {"ip": "10.1.2.3"}, "destination": {"port": 443}},
    {"message": "literal * star", "process": {"command_line": "ls"}, "source": {"ip": "2001:db8::1"},
     "destination": {"port": 8080}, "user": {"name": ""}},
]  # fmt: skip
CASES = [
    ("message|contains: 'password for root'", [0]),
    ("message|contains|cased: 'password for root'", []),
    ("message|startswith: 'accepted'", [1]),
    ("message|endswith: 'STAR'", [2]),
    ("message: '*PASSWORD*'", [0, 1]),
    ("message: 'literal \\* star'", [2]),
    ("process.command_line|re: '^(wget|curl) '", [0, 1]),
    ("process.command_line|re|i: 'WGET'", [0]),
    ("source.ip|cidr: ['10.0.0.0/8', '2001:db8::/32']", [1, 2]),
    ("user.name|exists: true", [0, 2]),
    ("user.name: null", [1]),
    ("user.name: ''", [2]),
    ("user.name: 'ĐỨC'", [0]),
    ("destination.port: 22", [0]),
    ("destination.port|gte: 443", [1, 2]),
    ("message|contains|all: ['password', 'alice']", [1]),
]


def rule(detection: str) -> str:
    return f"""
title: t
id: 1c3c0d2e-0000-4000-8000-000000000001
logsource: {{product: linux, service: auth}}
detection:
    selection:
        {detection}
    condition: selection
"""


@pytest.mark.parametrize(("detection", "expected"), CASES)
def test_it_converts_sigma_modifiers_with_sigma_meaning(
    store: EventStore, tmp_path: Path, detection: str, expected: list[int]
) -> None:
    (tmp_path / "r.yml").write_text(rule(detection))
    [loaded], problems = load_rules([tmp_path / "r.yml"])
    assert problems == []
    base = {"@timestamp": "2026-11-27T02:00:00Z", "event": {"dataset": "system.auth"}}
    docs = [{**base, "log": {"offset": i}, **e} for i, e in enumerate(EVENTS)]
    store.write(docs, agency="a")
    store.refresh()
    assert loaded.query is not None
    hits = scan(store, loaded.query, agencies=None, datasets=loaded.datasets)
    assert sorted(h.source["log"]["offset"] for h in hits) == expected


def test_it_scopes_a_rule_to_its_logsource(store: EventStore, tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(
        rule("message|contains: 'x'").replace("condition: selection", "condition: not selection")
    )
    [loaded], _ = load_rules([tmp_path / "r.yml"])
    docs = [
        {"@timestamp": "2026-11-27T02:00:00Z", "event": {"dataset": d}, "message": "y"}
        for d in ("system.auth", "nginx.access")
    ]
    store.write(docs, agency="a")
    store.refresh()
    assert loaded.query is not None
    assert store.count(loaded.query, agencies=None, datasets=loaded.datasets) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (rule("message|re: '\\bword'"), "cannot run the same on every backend"),
        (
            rule("Imagee: x").replace("service: auth", "category: process_creation"),
            "field 'Imagee' has no ECS mapping",
        ),
        (
            rule("message: x").replace("service: auth", "service: nosuch"),
            "logsource product=linux service=nosuch",
        ),
    ],
)
def test_it_refuses_rules_it_cannot_convert_with_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "r.yml").write_text(text)
    rules, problems = load_rules([tmp_path / "r.yml"])
    assert rules == []
    [problem] = problems
    path, line, rest = problem.split(":", 2)
    assert path == str(tmp_path / "r.yml")
    assert int(line) > 1
    assert message in rest
