"""Collectors and agencies: last seen, events per second, ingest lag, the silent alarm — from
real intake (collector tokens through POST /api/v1/ingest) into a real SQLite store, scoped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select

from soc import ecs
from soc.db import tokens
from soc.db.models import Agency, ApiToken, User
from soc.db.session import session_scope
from soc.triage import collectors
from soc.triage.principal import Forbidden, Principal
from tests.soc.web.conftest import Web


class World:
    def __init__(self, web: Web) -> None:
        self.web = web
        with session_scope(web.db) as s:
            ids = {a.code: a.id for a in s.scalars(select(Agency))}
            self.token_a, _ = tokens.create(
                s, name="web-a collector", kind="collector", agency_id=ids["so-a"], actor="test"
            )
            self.token_b, _ = tokens.create(
                s, name="db-b collector", kind="collector", agency_id=ids["so-b"], actor="test"
            )
            _, quiet = tokens.create(s, name="quiet-a", kind="collector", agency_id=ids["so-a"], actor="test")
            self.quiet_id = quiet.id
        now = datetime.now(UTC)
        a_events = [event("web-a", now - timedelta(seconds=30), n) for n in range(6)]
        self.ship(self.token_a, [*a_events, heartbeat("web-a", now)])
        self.ship(self.token_b, [event("db-b", now - timedelta(seconds=90), n) for n in range(3)])
        web.add_alert("so-a", n=1, id="open-a")
        web.add_alert("so-b", n=2, id="open-b1")
        web.add_alert("so-b", n=3, id="open-b2")
        web.add_alert("so-b", n=4, id="closed-b", status="closed")

    def ship(self, token: str, docs: list[dict[str, object]]) -> None:
        body = b"".join(orjson.dumps(d) + b"\n" for d in docs)
        answer = self.web.client().post(
            "/api/v1/ingest", content=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text

    def principal(self, name: str) -> Principal:
        with session_scope(self.web.db) as s:
            user = s.scalar(select(User).where(User.username == name))
            assert user is not None
            return Principal.of(user)

    def overview(self, name: str, **kw: object) -> collectors.Overview:
        with session_scope(self.web.db) as s:
            return collectors.overview(s, self.web.store, self.principal(name), datetime.now(UTC), **kw)  # type: ignore[arg-type]


def event(host: str, at: datetime, n: int) -> dict[str, object]:
    return {
        "@timestamp": ecs.format_time(at),
        "event": {"dataset": "system.auth"},
        "host": {"name": host},
        "agent": {"type": "soc-collector", "name": host},
        "message": f"line {n}",
    }


def heartbeat(host: str, at: datetime) -> dict[str, object]:
    return {
        "@timestamp": ecs.format_time(at),
        "event": {"dataset": "soc.collector", "kind": "metric", "action": "collector_heartbeat"},
        "agent": {"type": "soc-collector", "name": host},
        "message": f"collector {host} alive",
        "soc_collector": {"spool_bytes": 2048, "dropped": 0},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    web = Web(tmp_path_factory.mktemp("collectors"))
    yield World(web)
    web.store.close()


def test_it_counts_events_and_alerts_per_agency(world: World) -> None:
    o = world.overview("analyst")
    rows = {a.code: a for a in o.agencies}
    assert set(rows) == {"so-a", "so-b"}
    assert rows["so-a"].events_24h == 7  # six events and a heartbeat
    assert rows["so-b"].events_24h == 3
    assert rows["so-a"].open_alerts == 1
    assert rows["so-b"].open_alerts == 2
    assert rows["so-a"].tokens == 2
    assert rows["so-b"].tokens == 1
    assert rows["so-a"].eps_5m == pytest.approx(7 / 300)


def test_it_measures_ingest_lag_per_collector(world: World) -> None:
    hosts = {c.name: c for c in world.overview("analyst").collectors}
    assert set(hosts) == {"web-a", "db-b"}
    a, b = hosts["web-a"], hosts["db-b"]
    assert a.lag.sampled == 7
    assert a.lag.median_seconds == pytest.approx(30, abs=5)
    assert a.lag.max_seconds == pytest.approx(30, abs=5)
    assert b.lag.median_seconds == pytest.approx(90, abs=5)
    assert a.events_5m == 7
    assert a.events_60m == 7
    assert a.last_heartbeat_at is not None
    assert a.spool_bytes == 2048
    assert b.last_heartbeat_at is None
    assert not a.silent
    assert not b.silent


def test_a_collector_token_that_never_sent_is_silent(world: World) -> None:
    found = {t.name: t for t in world.overview("analyst").tokens}
    assert found["web-a collector"].last_used_at is not None
    assert not found["web-a collector"].silent
    assert found["quiet-a"].silent
    assert found["quiet-a"].last_used_at is None


def test_an_agency_is_silent_when_its_collectors_stopped(world: World) -> None:
    later = datetime.now(UTC) + collectors.SILENT_AFTER + timedelta(minutes=1)
    with session_scope(world.web.db) as s:
        o = collectors.overview(s, world.web.store, world.principal("analyst"), later)
    rows = {a.code: a for a in o.agencies}
    assert rows["so-a"].silent
    assert rows["so-b"].silent
    assert all(t.silent for t in o.tokens)


def test_the_silent_threshold_is_the_configured_one(world: World) -> None:
    later = datetime.now(UTC) + timedelta(minutes=30)
    with session_scope(world.web.db) as s:
        default = collectors.overview(s, world.web.store, world.principal("analyst"), later)
        longer = collectors.overview(
            s, world.web.store, world.principal("analyst"), later, silent_after=timedelta(hours=1)
        )
    assert {a.code: a.silent for a in default.agencies} == {"so-a": True, "so-b": True}
    assert {a.code: a.silent for a in longer.agencies} == {"so-a": False, "so-b": False}
    assert longer.silent_after_seconds == 3600


def test_a_revoked_token_never_raises_the_alarm(world: World) -> None:
    with session_scope(world.web.db) as s:
        token = s.get(ApiToken, world.quiet_id)
        assert token is not None
        token.revoked_at = datetime.now(UTC)
    try:
        found = {t.name: t for t in world.overview("analyst").tokens}
        assert found["quiet-a"].revoked
        assert not found["quiet-a"].silent
    finally:
        with session_scope(world.web.db) as s:
            token = s.get(ApiToken, world.quiet_id)
            assert token is not None
            token.revoked_at = None


def test_officer_sees_only_own_agency(world: World) -> None:
    o = world.overview("officer_a")
    assert [a.code for a in o.agencies] == ["so-a"]
    assert {c.agency for c in o.collectors} == {"so-a"}
    assert {t.agency for t in o.tokens} == {"so-a"}
    other = world.overview("officer_a", agency="so-b")
    assert (other.agencies, other.collectors, other.tokens) == ([], [], [])


def test_outsider_and_appraiser_are_refused(world: World) -> None:
    for name in ("outsider", "appraiser"):
        with pytest.raises(Forbidden):
            world.overview(name)
