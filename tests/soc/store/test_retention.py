"""Retention on every backend: whole daily partitions older than each dataset's days are dropped."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from soc import settings as settings_mod
from soc.cli import cli
from soc.db import migrate
from soc.db.models import AuditEntry
from soc.db.session import make_engine, session_scope
from soc.errors import ConfigError
from soc.store import periods
from soc.store.base import EventStore
from soc.store.query import MatchAll
from soc.store.retention import Policy, RetentionJob, apply, plan
from soc.store.search import SearchStore
from soc.store.sqlite import SqliteStore

TODAY = date(2026, 11, 27)
POLICY = Policy(0, {"system.auth": 90, "network": 30})


def event(n: int, day: str, dataset: str) -> dict[str, Any]:
    return {
        "@timestamp": f"{day}T01:00:{n:02d}Z",
        "event": {"dataset": dataset},
        "message": f"{dataset} {day}",
        "log": {"offset": n},
    }


def fill(store: EventStore) -> None:
    docs = [
        event(1, "2026-08-29", "system.auth"),  # 91st day back: expired
        event(2, "2026-08-30", "system.auth"),  # 90th day back: kept
        event(3, "2026-10-28", "network.flow"),  # 31st day back under `network`: expired
        event(4, "2026-10-29", "network.flow"),
        event(5, "2020-01-01", "nginx.access"),  # no rule, default 0: kept forever
    ]
    result = store.write(docs, agency="a")
    assert result.created == 5
    store.refresh()


def remaining(store: EventStore) -> list[str]:
    from soc.store.base import scan

    return sorted(str(h.source["message"]) for h in scan(store, MatchAll(), agencies=None))


def test_it_uses_the_longest_configured_name_covering_a_dataset() -> None:
    policy = Policy(14, {"network": 30, "network.dns": 7, "system.auth": 0})
    assert policy.days_for("network.flow") == (30, "retention.network")
    assert policy.days_for("network.dns") == (7, "retention.network.dns")
    assert policy.days_for("networkx") == (14, "retention_days")
    assert policy.days_for("system.auth") == (0, "retention.system.auth")


def test_it_lists_daily_partitions(store: EventStore) -> None:
    fill(store)
    days = {(p.slug, p.day) for p in store.partitions()}
    assert ("system.auth", date(2026, 8, 29)) in days
    assert ("nginx.access", date(2020, 1, 1)) in days
    assert all(p.name.startswith(f"{store.prefix}-events-") for p in store.partitions())  # type: ignore[attr-defined]


def test_it_drops_expired_partitions_per_dataset(store: EventStore) -> None:
    fill(store)
    outcomes = apply(store, POLICY, today=TODAY)
    store.refresh()
    assert [(o.dataset, o.cutoff, len(o.partitions)) for o in outcomes] == [
        ("network.flow", date(2026, 10, 29), 1),
        ("system.auth", date(2026, 8, 30), 1),
    ]
    assert remaining(store) == [
        "network.flow 2026-10-29",
        "nginx.access 2020-01-01",
        "system.auth 2026-08-30",
    ]
    assert not [d for d in plan(store, POLICY, TODAY) if d.expired]


def periodic(store: EventStore) -> EventStore:
    """The same store writing indices by period as `store_index_period: auto` does (SQLite keeps
    days: its partitions are rows, not shards)."""
    if not isinstance(store, SearchStore):
        return store
    period = periods.chooser("auto", lambda slug: POLICY.days_for(slug)[0])
    return SearchStore(store.engine, prefix=store.prefix, period=period)


def test_engines_keep_long_kept_datasets_in_monthly_and_short_kept_ones_in_weekly_indices(
    store: EventStore,
) -> None:
    fill(periodic(store))
    parts = {(p.slug, p.name.rpartition("-")[2], p.day, p.until) for p in store.partitions()}
    if isinstance(store, SearchStore):
        assert parts == {
            ("system.auth", "2026.08", date(2026, 8, 1), date(2026, 8, 31)),  # 90 days: monthly
            ("network.flow", "2026.w44", date(2026, 10, 26), date(2026, 11, 1)),  # 30 days: weekly
            ("nginx.access", "2020.01", date(2020, 1, 1), date(2020, 1, 31)),  # forever: monthly
        }
    else:
        assert len(parts) == 5
        assert all(first == last for *_, first, last in parts)


def test_an_engine_index_goes_once_its_last_day_expired(store: EventStore) -> None:
    fill(periodic(store))
    if not isinstance(store, SearchStore):  # SQLite drops the expired days at once
        assert [len(o.partitions) for o in apply(store, POLICY, today=TODAY)] == [1, 1]
        return
    assert not [o for o in apply(store, POLICY, today=TODAY) if o.removed]  # both still hold kept days
    store.refresh()
    assert len(remaining(store)) == 5
    assert [(o.dataset, o.removed) for o in apply(store, POLICY, today=date(2026, 11, 30))] == [
        ("system.auth", 1)  # every day of August is now older than 90 days
    ]
    assert [(o.dataset, o.removed) for o in apply(store, POLICY, today=date(2026, 12, 1))] == [
        ("network.flow", 1)  # week 44 ended on 2026-11-01, the 31st day back
    ]
    store.refresh()
    assert remaining(store) == ["nginx.access 2020-01-01"]


def test_it_drops_nothing_on_a_dry_run(store: EventStore) -> None:
    fill(store)
    outcomes = apply(store, POLICY, today=TODAY, dry_run=True)
    assert [o.removed for o in outcomes] == [0, 0]
    assert len(remaining(store)) == 5


def test_it_audits_and_counts_each_drop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    migrate.upgrade(url)
    db = make_engine(url)
    store = SqliteStore(tmp_path / "events.db")
    store.ensure_schema()
    fill(store)
    registry = CollectorRegistry()
    RetentionJob(store, POLICY, db=db, interval_seconds=3600, registry=registry).run_once(TODAY)
    with session_scope(db) as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.drop")).all()
        assert sorted(e.target_id for e in entries) == ["network.flow", "system.auth"]
        assert all(e.actor == "system:retention" for e in entries)
    assert (
        registry.get_sample_value("soc_retention_partitions_dropped_total", {"dataset": "system.auth"}) == 1
    )
    assert registry.get_sample_value("soc_retention_last_run_timestamp") is not None
    db.dispose()
    store.close()


def test_it_is_off_by_default() -> None:
    settings = settings_mod.load(environ={})
    assert not RetentionJob(None, Policy.from_settings(settings), db=None, interval_seconds=60).active  # type: ignore[arg-type]


def test_it_reports_a_bad_retention_setting_with_its_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "soc.yml"
    config.write_text("store: sqlite\nretention_days: -1\nretention:\n  system.auth: ninety\n")
    with pytest.raises(ConfigError) as caught:
        settings_mod.load(config, environ={})
    problems = "\n".join(caught.value.problems)
    assert f"{config}:3: retention: 'system.auth=ninety': days must be a whole number" in problems
    assert "retention_days: must be >= 0" in problems


def test_it_reads_retention_from_the_environment() -> None:
    settings = settings_mod.load(environ={"SOC_RETENTION": "system.auth=90, network=30"})
    assert Policy.from_settings(settings).datasets == {"system.auth": 90, "network": 30}


def test_it_shows_and_applies_retention_from_the_cli(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "events.db")
    store.ensure_schema()
    fill(store)
    store.close()
    env = {"SOC_DATA_DIR": str(tmp_path), "SOC_RETENTION": "system.auth=90,network=30"}
    runner = CliRunner()
    shown = runner.invoke(cli, ["retention", "show", "--today", "2026-11-27"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "system.auth" in shown.output
    assert "retention.network" in shown.output
    dry = runner.invoke(cli, ["retention", "apply", "--dry-run", "--today", "2026-11-27"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "system.auth: would drop 1 partition(s) before 2026-08-30" in dry.output
    assert "soc-events-a.system.auth-2026.08.29" in dry.output
    migrate.upgrade(f"sqlite:///{tmp_path / 'soc.db'}")
    done = runner.invoke(cli, ["retention", "apply", "--today", "2026-11-27"], env=env)
    assert done.exit_code == 0, done.output
    assert "network.flow: dropped 1 partition(s)" in done.output
    again = runner.invoke(cli, ["retention", "apply", "--today", "2026-11-27"], env=env)
    assert "Nothing to drop." in again.output
