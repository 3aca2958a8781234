"""Our events agree with the JSON Filebeat's own tests produced from the same inputs (elastic/beats)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collectors.multiline import Multiline, join
from collectors.parsers import parse_lines
from soc import ecs

# The fields data/README.md says to compare (both sides define them); placeholders "-" that
# Filebeat keeps but ECS leaves out count as "not defined".
COMPARED = (
    "source.ip", "source.port", "source.address", "user.name", "user.id", "group.id", "group.name",
    "host.hostname", "process.name", "process.pid", "message", "event.outcome", "event.action",
    "http.request.method", "http.request.referrer", "http.response.status_code",
    "http.response.body.bytes", "http.version", "url.original", "user_agent.original", "@timestamp",
)  # fmt: skip
# Fields an expected event defines that we must define too (not merely agree where both do).
REQUIRED = ("source.ip", "user.name", "http.response.status_code", "url.original", "event.outcome",
            "@timestamp", "process.name", "host.hostname", "group.name", "user.id")  # fmt: skip

CASES = [
    ("system-auth/test.log", "syslog", None),
    ("system-auth/secure-rhel7.log", "syslog", 100),
    ("system-syslog/suse-syslog.log", "syslog", None),
    ("system-syslog/tz-offset.log", "syslog", None),
    ("system-syslog/darwin-syslog-sample.log", "syslog", None),
    ("nginx-access/test.log", "nginx", None),
    ("apache-access/test.log", "apache", None),
]


def events_of(path: Path, fmt: str) -> dict[int, dict[str, Any]]:
    with path.open("rb") as f:
        raw = list(join(f, Multiline(r"^\s"))) if "darwin" in path.name else f.readlines()
    return {ev["log"]["offset"]: ev for ev in parse_lines(raw, fmt=fmt, timezone="UTC", year=2019)}


def disagreements(expected: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    problems = []
    for name in COMPARED:
        want = expected.get(name)
        got = ecs.get(ours, name)
        if want is None or want == "-":
            continue
        if got is None:
            if name in REQUIRED:
                problems.append(f"{name}: expected {want!r}, missing")
            continue
        if isinstance(want, str) and isinstance(got, str):
            want, got = want.strip(), got.strip()
        if got != want:
            problems.append(f"{name}: expected {want!r}, got {got!r}")
    return problems


@pytest.mark.parametrize(("name", "fmt", "limit"), CASES, ids=[c[0] for c in CASES])
def test_it_agrees_with_filebeat_golden_events(
    shared_data: Path, name: str, fmt: str, limit: int | None
) -> None:
    path = shared_data / "filebeat-golden" / name
    expected = json.loads(path.with_name(path.name + "-expected.json").read_text(encoding="utf-8"))
    ours = events_of(path, fmt)
    problems, compared = [], 0
    for want in expected[:limit]:
        got = ours.get(want["log.offset"])
        if got is None:
            problems.append(f"offset {want['log.offset']}: no event")
            continue
        problems += [f"offset {want['log.offset']}: {p}" for p in disagreements(want, got)]
        compared += sum(1 for f in COMPARED if want.get(f) not in (None, "-") and ecs.get(got, f) is not None)
    assert problems == []
    assert compared >= 3 * len(expected[:limit])  # the comparison is not vacuous


@pytest.mark.parametrize(("name", "fmt", "limit"), CASES, ids=[c[0] for c in CASES])
def test_it_parses_every_golden_line_without_error(
    shared_data: Path, name: str, fmt: str, limit: int | None
) -> None:
    ours = events_of(shared_data / "filebeat-golden" / name, fmt)
    assert [ev["event"]["original"] for ev in ours.values() if "error" in ev] == []


def test_it_keeps_multiline_records_with_their_flag(shared_data: Path) -> None:
    ours = events_of(shared_data / "filebeat-golden/system-syslog/darwin-syslog-sample.log", "syslog")
    assert sorted(ours) == [0, 907, 1176]
    assert ours[0]["log"]["flags"] == ["multiline"]
    assert ours[0]["message"].count("\n") == 18
