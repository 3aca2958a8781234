"""Rule health and control over a real SQLite store with the bundled rules: run now raises the
alert once, enable/disable are audited, a gap is backfilled, and the health view adds it up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from soc import ecs
from soc.db.detection import Alert, DetectionGap, RuleRun, RuleState
from soc.db.models import AuditEntry, User
from soc.db.session import session_scope
from soc.triage import rules
from soc.triage.principal import Forbidden, Invalid, NotFound, Principal
from tests.soc.web.conftest import Web

ROOT_LOGIN = "15d80bef-440e-57bd-8feb-50484ebb4247"
"""rules/linux/auth/ssh_root_login.yml"""
USER_CREATED = "rules/linux/auth/user_created.yml"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One service for the module (signing up the actors is slow); each test uses its own rule."""
    w = Web(tmp_path_factory.mktemp("rules"))
    yield w
    w.store.close()


@pytest.fixture(scope="module")
def catalog(web: Web) -> rules.Catalog:
    return rules.Catalog.load(web.settings, web.store, web.db)


def principal(web: Web, name: str) -> Principal:
    with session_scope(web.db) as s:
        user = s.scalar(select(User).where(User.username == name))
        assert user is not None
        return Principal.of(user)


def rule_id(catalog: rules.Catalog, path: str) -> str:
    return next(r.id for r in catalog.rules.values() if str(r.path).endswith(path))


def root_login(agency: str, n: int) -> dict[str, object]:
    return {
        "@timestamp": ecs.format_time(datetime.now(UTC)),
        "event": {"dataset": "system.auth"},
        "process": {"name": "sshd"},
        "host": {"name": f"web{n}"},
        "message": f"Accepted password for root from 203.0.113.{n} port 41999 ssh2",
        "source": {"ip": f"203.0.113.{n}"},
    }


def audit_actions(web: Web, target: str) -> list[tuple[str, str, dict[str, object]]]:
    with session_scope(web.db) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.target_id == target).order_by(AuditEntry.id))
        return [(e.actor, e.action, e.detail) for e in rows]


def test_it_loads_every_bundled_rule_as_soc_serve_does(catalog: rules.Catalog) -> None:
    assert catalog.problems == []
    assert ROOT_LOGIN in catalog.rules
    assert len(catalog.rules) >= 60


def test_run_now_raises_the_alert_once_through_the_scheduler(web: Web, catalog: rules.Catalog) -> None:
    web.store.write([root_login("so-a", 7)], agency="so-a")
    analyst = principal(web, "analyst")
    report = rules.run_now(web.db, analyst, catalog, ROOT_LOGIN)
    assert report.error is None
    assert report.windows >= 1
    assert report.alerts == 1
    again = rules.run_now(web.db, analyst, catalog, ROOT_LOGIN)
    assert again.alerts == 0
    with session_scope(web.db) as s:
        alert = s.scalar(select(Alert).where(Alert.rule_id == ROOT_LOGIN))
        assert alert is not None
        assert alert.agency == "so-a"
        assert alert.host == "web7"
        assert s.scalar(select(RuleRun).where(RuleRun.rule_id == ROOT_LOGIN)) is not None
        health = rules.one(s, analyst, catalog, ROOT_LOGIN, datetime.now(UTC))
    assert health.hits_24h == 1
    assert health.last_run_at is not None
    assert health.last_lag_seconds is not None
    assert [a for _, a, _ in audit_actions(web, ROOT_LOGIN)] == ["rule.run", "rule.run"]


def test_disable_needs_a_reason_and_is_audited(web: Web, catalog: rules.Catalog) -> None:
    rid = rule_id(catalog, USER_CREATED)
    analyst = principal(web, "analyst")
    with session_scope(web.db) as s, pytest.raises(Invalid):
        rules.set_enabled(s, analyst, catalog, rid, False, "  ")
    with session_scope(web.db) as s:
        rules.set_enabled(s, analyst, catalog, rid, False, "noisy during the migration")
    with session_scope(web.db) as s:
        state = s.get(RuleState, rid)
        assert state is not None
        assert state.enabled is False
        health = rules.one(s, analyst, catalog, rid, datetime.now(UTC))
        assert health.state == "disabled"
    with pytest.raises(Invalid):
        rules.run_now(web.db, analyst, catalog, rid)
    with session_scope(web.db) as s:
        rules.set_enabled(s, analyst, catalog, rid, True)
    with session_scope(web.db) as s:
        assert rules.one(s, analyst, catalog, rid, datetime.now(UTC)).state == "enabled"
    trail = audit_actions(web, rid)
    assert [(who, what) for who, what, _ in trail] == [
        ("analyst", "rule.disable"),
        ("analyst", "rule.enable"),
    ]
    assert trail[0][2]["reason"] == "noisy during the migration"


def test_enable_resumes_a_rule_paused_after_failures(web: Web, catalog: rules.Catalog) -> None:
    rid = rule_id(catalog, "rules/linux/auth/user_deleted.yml")
    analyst = principal(web, "analyst")
    now = datetime.now(UTC)
    with session_scope(web.db) as s:
        state = s.get(RuleState, rid)
        assert state is not None
        state.consecutive_failures, state.paused_reason = 3, "paused after 3 failures in a row: boom"
        s.add(RuleRun(rule_id=rid, rule_version="x", window_start=now, window_end=now, started_at=now,
                      error="TimeoutError: boom", runner="test"))  # fmt: skip
    with session_scope(web.db) as s:
        health = rules.one(s, analyst, catalog, rid, now)
        assert health.state == "paused"
        assert health.consecutive_failures == 3
        assert health.last_error == "TimeoutError: boom"
        rules.set_enabled(s, analyst, catalog, rid, True)
    with session_scope(web.db) as s:
        state = s.get(RuleState, rid)
        assert state is not None
        assert (state.enabled, state.paused_reason, state.consecutive_failures) == (True, None, 0)


def test_backfill_evaluates_an_open_gap_once(web: Web, catalog: rules.Catalog) -> None:
    rid = rule_id(catalog, "rules/linux/auth/ssh_accepted_login.yml")
    web.store.write([root_login("so-b", 9)], agency="so-b")
    now = datetime.now(UTC)
    with session_scope(web.db) as s:
        gap = DetectionGap(rule_id=rid, start_at=now - timedelta(hours=1), end_at=now + timedelta(seconds=1),
                           reason="outage")  # fmt: skip
        s.add(gap)
        s.flush()
        gap_id = gap.id
    with session_scope(web.db) as s:
        assert rules.one(s, principal(web, "analyst"), catalog, rid, now).open_gaps == 1
    analyst = principal(web, "analyst")
    assert rules.backfill(web.db, analyst, catalog, rid, gap_id) >= 1
    with pytest.raises(Invalid):
        rules.backfill(web.db, analyst, catalog, rid, gap_id)
    with pytest.raises(NotFound):
        rules.backfill(web.db, analyst, catalog, ROOT_LOGIN, gap_id)
    with session_scope(web.db) as s:
        assert rules.one(s, analyst, catalog, rid, now).open_gaps == 0
        backfilled = s.scalars(select(Alert).where(Alert.rule_id == rid)).all()
        assert backfilled
        assert all(a.backfill for a in backfilled)
    assert [a for _, a, _ in audit_actions(web, rid)] == ["rule.backfill"]


def test_detail_has_the_converted_query(catalog: rules.Catalog) -> None:
    query = rules.converted(catalog, ROOT_LOGIN)
    assert "system.auth" in query
    assert "Accepted" in query
    with pytest.raises(NotFound):
        rules.converted(catalog, "no-such-rule")


@pytest.mark.parametrize("name", ["officer_a", "officer_b", "outsider", "appraiser"])
def test_others_cannot_read_or_change_rules(web: Web, catalog: rules.Catalog, name: str) -> None:
    who = principal(web, name)
    with session_scope(web.db) as s:
        with pytest.raises(Forbidden):
            rules.health(s, who, catalog, datetime.now(UTC))
        with pytest.raises(Forbidden):
            rules.set_enabled(s, who, catalog, ROOT_LOGIN, False, "x")
    with pytest.raises(Forbidden):
        rules.run_now(web.db, who, catalog, ROOT_LOGIN)


def test_oncall_reads_but_cannot_change_rules(web: Web, catalog: rules.Catalog) -> None:
    oncall = principal(web, "oncall")
    with session_scope(web.db) as s:
        assert rules.health(s, oncall, catalog, datetime.now(UTC))
        with pytest.raises(Forbidden):
            rules.set_enabled(s, oncall, catalog, ROOT_LOGIN, False, "x")
