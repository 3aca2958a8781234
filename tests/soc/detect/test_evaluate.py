"""Evaluating rules over ingest windows: single events and correlations, same on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soc.detect.evaluate import evaluate
from soc.detect.model import Rule
from soc.detect.rules import load_rules
from soc.store.base import EventStore, Window

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
FAILED = """
title: SSH failed password
id: 5f0c6a52-0000-4000-8000-000000000001
name: t_ssh_failed
logsource: {product: linux, service: sshd}
detection:
    selection: {event.outcome: failure}
    condition: selection
level: low
"""
ACCEPTED = """
title: SSH accepted
id: 5f0c6a52-0000-4000-8000-000000000002
name: t_ssh_accepted
logsource: {product: linux, service: sshd}
detection:
    selection: {event.outcome: success}
    condition: selection
level: low
"""
BRUTE = """
title: SSH brute force
id: 5f0c6a52-0000-4000-8000-000000000003
correlation:
    type: event_count
    rules: [t_ssh_failed]
    group-by: [source.ip]
    timespan: 1m
    condition: {gte: 3}
level: high
"""
SPRAY = """
title: Password spraying
id: 5f0c6a52-0000-4000-8000-000000000004
correlation:
    type: value_count
    rules: [t_ssh_failed]
    group-by: [source.ip]
    timespan: 10m
    condition: {field: user.name, gte: 3}
level: high
"""
THEN = """
title: Failures then success
id: 5f0c6a52-0000-4000-8000-000000000005
correlation:
    type: temporal_ordered
    rules: [t_ssh_failed, t_ssh_accepted]
    group-by: [source.ip]
    timespan: 5m
generate: true
level: critical
"""


def rules(tmp_path: Path, *texts: str) -> dict[str, Rule]:
    for i, text in enumerate(texts):
        (tmp_path / f"r{i}.yml").write_text(text)
    loaded, problems = load_rules([tmp_path])
    assert problems == []
    return {r.id: r for r in loaded}


def ssh(second: int, outcome: str, ip: str, user: str = "root") -> dict[str, Any]:
    return {
        "@timestamp": (T0 - timedelta(hours=1) + timedelta(seconds=second)).isoformat(),
        "event": {"dataset": "system.auth", "outcome": outcome},
        "process": {"name": "sshd"},
        "source": {"ip": ip},
        "user": {"name": user},
        "message": f"{outcome} {user} {ip} {second}",
    }


def run(store: EventStore, rule: Rule, all_rules: dict[str, Rule], window: Window) -> list[Any]:
    return list(evaluate(store, rule, window, rules=all_rules))


WINDOW = Window(T0, T0 + timedelta(minutes=5))


def test_it_yields_one_finding_per_matching_event_in_the_window(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED)
    store.write([ssh(i, "failure", "10.0.0.1") for i in range(3)], agency="a", now=T0)
    store.write([ssh(9, "failure", "10.0.0.1")], agency="a", now=T0 + timedelta(minutes=5))
    store.write([ssh(10, "success", "10.0.0.1")], agency="a", now=T0)
    store.refresh()
    [rule] = all_rules.values()
    found = run(store, rule, all_rules, WINDOW)
    assert [f.count for f in found] == [1, 1, 1]
    assert all(f.group == () and f.first_at == f.last_at for f in found)
    assert found[0].first_at.tzinfo is not None


def test_it_scans_every_page_without_truncation(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED)
    store.write([ssh(i, "failure", "10.0.0.1") for i in range(2500)], agency="a", now=T0)
    store.refresh()
    [rule] = all_rules.values()
    assert len({f.hits[0].id for f in run(store, rule, all_rules, WINDOW)}) == 2500


def test_it_keeps_rules_that_only_feed_correlations_silent(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED, BRUTE)
    store.write([ssh(1, "failure", "10.0.0.1")], agency="a", now=T0)
    store.refresh()
    assert run(store, all_rules["5f0c6a52-0000-4000-8000-000000000001"], all_rules, WINDOW) == []


@pytest.mark.parametrize(
    ("seconds", "expected"), [((0, 20, 40, 59), [("10.0.0.1", 4)]), ((0, 40, 80, 120), [])]
)
def test_it_counts_events_in_a_sliding_window(
    store: EventStore, tmp_path: Path, seconds: tuple[int, ...], expected: list[Any]
) -> None:
    all_rules = rules(tmp_path, FAILED, BRUTE)
    store.write([ssh(s, "failure", "10.0.0.1") for s in seconds], agency="a", now=T0)
    store.write([ssh(s, "failure", "10.0.0.2") for s in (0, 1)], agency="a", now=T0)
    store.refresh()
    found = run(store, all_rules["5f0c6a52-0000-4000-8000-000000000003"], all_rules, WINDOW)
    assert [(dict(f.group)["source.ip"], f.count) for f in found] == expected


def test_it_completes_a_group_with_events_ingested_earlier(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED, BRUTE)
    store.write([ssh(s, "failure", "10.0.0.1") for s in (0, 10)], agency="a", now=T0 - timedelta(minutes=30))
    store.write([ssh(20, "failure", "10.0.0.1")], agency="a", now=T0)
    store.refresh()
    brute = all_rules["5f0c6a52-0000-4000-8000-000000000003"]
    [finding] = run(store, brute, all_rules, WINDOW)
    assert finding.count == 3
    assert run(store, brute, all_rules, Window(T0 + timedelta(minutes=5), T0 + timedelta(minutes=10))) == []


def test_it_counts_distinct_values_per_group(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED, SPRAY)
    users = ["root", "admin", "ROOT", "oracle"]
    store.write([ssh(i, "failure", "10.0.0.1", u) for i, u in enumerate(users)], agency="a", now=T0)
    store.write([ssh(i, "failure", "10.0.0.2", "root") for i in range(9)], agency="a", now=T0)
    store.refresh()
    [finding] = run(store, all_rules["5f0c6a52-0000-4000-8000-000000000004"], all_rules, WINDOW)
    assert finding.group == (("organization.id", "a"), ("source.ip", "10.0.0.1"))
    assert finding.count == 4


def test_it_requires_temporal_order(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED, ACCEPTED, THEN)
    store.write([ssh(0, "failure", "10.0.0.1"), ssh(30, "success", "10.0.0.1")], agency="a", now=T0)
    store.write([ssh(30, "failure", "10.0.0.2"), ssh(0, "success", "10.0.0.2")], agency="a", now=T0)
    store.refresh()
    found = run(store, all_rules["5f0c6a52-0000-4000-8000-000000000005"], all_rules, WINDOW)
    assert [f.group for f in found] == [(("organization.id", "a"), ("source.ip", "10.0.0.1"))]
    assert found[0].last_at - found[0].first_at == timedelta(seconds=30)


def test_it_never_combines_two_agencies_into_one_correlation(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED, BRUTE)
    brute = all_rules["5f0c6a52-0000-4000-8000-000000000003"]
    store.write([ssh(s, "failure", "10.0.0.1") for s in (0, 10)], agency="a", now=T0)
    store.write([ssh(s, "failure", "10.0.0.1") for s in (20, 30)], agency="b", now=T0)
    store.refresh()
    assert run(store, brute, all_rules, WINDOW) == []


def test_it_alerts_each_agency_on_its_own_events(store: EventStore, tmp_path: Path) -> None:
    all_rules = rules(tmp_path, FAILED, BRUTE)
    brute = all_rules["5f0c6a52-0000-4000-8000-000000000003"]
    store.write([ssh(s, "failure", "10.0.0.1") for s in (0, 10, 20)], agency="a", now=T0)
    store.write([ssh(s, "failure", "10.0.0.1") for s in (5, 15, 25, 35)], agency="b", now=T0)
    store.refresh()
    found = run(store, brute, all_rules, WINDOW)
    assert [(dict(f.group)["organization.id"], f.count) for f in found] == [("a", 3), ("b", 4)]
    assert all(
        {h.source["organization"]["id"] for h in f.hits} == {dict(f.group)["organization.id"]} for f in found
    )
