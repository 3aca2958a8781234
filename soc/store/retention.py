"""Retention: how many days of each dataset the store keeps, and dropping what is older.

The unit is the partition: an index on the engines (one agency's dataset over a day, an ISO week
or a month, see periods.py), a (dataset, day) on SQLite, so expiring data is a cheap index
deletion and never a delete-by-query. A day is kept while it is within the dataset's last `days`
days (today counts as one), so with 90 days on 2026-11-27 the oldest day kept is 2026-08-30; an
engine index is dropped once its last day is older than that, so a weekly or monthly index keeps
its older days until then (the price of fewer shards).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Engine

from soc import ecs
from soc.db import audit
from soc.db.session import session_scope
from soc.settings import Settings, retention_map
from soc.store.base import EventStore, Partition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    default_days: int = 0
    """0: keep forever."""
    datasets: Mapping[str, int] = field(default_factory=dict)
    """Dataset name (or a parent name such as `network`) -> days; 0 keeps forever."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.retention_days, retention_map(settings.retention))

    def days_for(self, slug: str) -> tuple[int, str]:
        """(days, which setting decided): the longest configured name covering the dataset."""
        best = ""
        for name in self.datasets:
            key = ecs.dataset_slug(name)
            if (slug == key or slug.startswith(key + ".")) and len(key) > len(best):
                best = name
        if best:
            return self.datasets[best], f"retention.{best}"
        return self.default_days, "retention_days"


@dataclass(frozen=True)
class Decision:
    partition: Partition
    days: int
    rule: str
    cutoff: date | None
    """Partitions whose last day is before this day are dropped; None when kept forever."""

    @property
    def expired(self) -> bool:
        return self.cutoff is not None and self.partition.until < self.cutoff


def plan(store: EventStore, policy: Policy, today: date) -> list[Decision]:
    out = []
    for part in store.partitions():
        days, rule = policy.days_for(part.slug)
        cutoff = today - timedelta(days=days - 1) if days > 0 else None
        out.append(Decision(part, days, rule, cutoff))
    return out


@dataclass(frozen=True)
class Outcome:
    dataset: str
    cutoff: date
    partitions: list[str]
    removed: int
    """What the store reports: events on SQLite, indices on the engines (0 on a dry run)."""


def apply(
    store: EventStore,
    policy: Policy,
    *,
    today: date | None = None,
    dry_run: bool = False,
    db: Engine | None = None,
    actor: str = "system:retention",
) -> list[Outcome]:
    """Drop expired partitions, dataset by dataset; log and (with `db`) audit each drop."""
    today = today or datetime.now(UTC).date()
    expired: dict[str, list[Decision]] = {}
    for decision in plan(store, policy, today):
        if decision.expired:
            expired.setdefault(decision.partition.slug, []).append(decision)
    outcomes = []
    for slug, decisions in sorted(expired.items()):
        cutoff = decisions[0].cutoff
        assert cutoff is not None  # expired implies a cutoff
        names = [d.partition.name for d in decisions]
        removed = 0 if dry_run else store.delete_before(slug, cutoff)
        outcomes.append(Outcome(slug, cutoff, names, removed))
        log.info(
            "retention %s dataset=%s days=%d rule=%s before=%s partitions=%d removed=%d",
            "would drop" if dry_run else "dropped", slug, decisions[0].days, decisions[0].rule,
            cutoff.isoformat(), len(names), removed,
        )  # fmt: skip
        if db is not None and not dry_run:
            with session_scope(db) as session:
                audit.record(
                    session, actor=actor, action="retention.drop", target_type="dataset", target_id=slug,
                    detail={"before": cutoff.isoformat(), "days": decisions[0].days,
                            "rule": decisions[0].rule, "partitions": names, "removed": removed},
                )  # fmt: skip
    return outcomes


class RetentionMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.dropped = Counter(
            "soc_retention_partitions_dropped", "Daily partitions dropped by retention, by dataset.",
            ["dataset"], registry=registry,
        )  # fmt: skip
        self.last_run = Gauge(
            "soc_retention_last_run_timestamp", "When retention last completed (unix time).",
            registry=registry,
        )  # fmt: skip
        self.failures = Counter("soc_retention_failures", "Retention passes that failed.", registry=registry)


class RetentionJob:
    """Applies retention every `interval_seconds` in a thread of `soc serve` (first pass at start).

    Several replicas may run it: dropping an index that another replica already dropped is
    harmless, because each pass lists what exists first."""

    def __init__(
        self,
        store: EventStore,
        policy: Policy,
        *,
        db: Engine | None,
        interval_seconds: float,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.db = db
        self.interval_seconds = interval_seconds
        self.metrics = RetentionMetrics(registry)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.policy.default_days > 0 or any(d > 0 for d in self.policy.datasets.values())

    def run_once(self, today: date | None = None) -> list[Outcome]:
        outcomes = apply(self.store, self.policy, today=today, db=self.db)
        for outcome in outcomes:
            self.metrics.dropped.labels(outcome.dataset).inc(len(outcome.partitions))
        self.metrics.last_run.set_to_current_time()
        return outcomes

    def start(self) -> RetentionJob:
        if not self.active:
            log.info("retention is off (retention_days and retention are 0 or unset): events are kept")
            return self
        self._thread = threading.Thread(target=self._loop, name="soc-retention", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                self.metrics.failures.inc()
                log.exception("retention pass failed; trying again in %ss", self.interval_seconds)
            self._stop.wait(self.interval_seconds)


def job_for(
    settings: Settings, store: EventStore, db: Engine | None, *, registry: CollectorRegistry | None = None
) -> RetentionJob:
    return RetentionJob(
        store, Policy.from_settings(settings), db=db,
        interval_seconds=settings.retention_interval_seconds, registry=registry,
    )  # fmt: skip
