"""Triage service: status flow, stamps, history and audit, optimistic check, scoping, queries,
suppressions and the notification group resolving once triage closed it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from soc.alerts.writer import write_alerts
from soc.db import accounts, migrate
from soc.db.detection import Alert, Suppression
from soc.db.models import AuditEntry, User
from soc.db.notify import AlertGroup, OutboxMessage
from soc.db.session import make_engine, session_scope
from soc.db.triage import AlertTransition
from soc.notify import grouping
from soc.notify.oncall import OncallConfig
from soc.notify.service import NotifyService
from soc.triage import alert_query as aq
from soc.triage import alerts as triage
from soc.triage import suppress
from soc.triage.principal import Conflict, Forbidden, Invalid, NotFound, Principal

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
ACTORS: dict[str, list[tuple[str, str | None]]] = {
    "analyst": [("soc_analyst", None)],
    "oncall": [("oncall", None)],
    "officer_a": [("agency_officer", "so-a")],
    "officer_b": [("agency_officer", "so-b")],
    "outsider": [],
}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database with the actors; each test works on a copy (migrations are slow)."""
    path = tmp_path_factory.mktemp("triage") / "app.db"
    migrate.upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with session_scope(engine) as s:
        accounts.add_agency(s, "so-a", "Sở A", actor="test")
        accounts.add_agency(s, "so-b", "Sở B", actor="test")
        for name, roles in ACTORS.items():
            accounts.add_user(
                s, username=name, password="correct horse battery staple", email=f"{name}@example.vn",
                full_name=name, locale="en", roles=roles, actor="test",
            )  # fmt: skip
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Engine]:
    shutil.copy(migrated, tmp_path / "app.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    yield engine
    engine.dispose()


def who(session: Session, name: str) -> Principal:
    user = session.scalar(select(User).where(User.username == name))
    assert user is not None
    return Principal.of(user)


def row(agency: str | None, n: int, **fields: Any) -> dict[str, Any]:
    at = fields.pop("first_at", T0 + timedelta(minutes=n))
    return {
        "id": f"{agency}-{n}", "rule_id": "r-ssh", "rule_version": "1", "rule_title": "SSH brute force",
        "level": "high", "tags": [], "agency": agency, "host": f"web{n % 3}", "user_name": "root",
        "source_ip": "203.0.113.9", "group_key": {}, "first_at": at, "last_at": at, "count": 1,
        "events": [{"index": "i", "id": f"e{n}", "original": f"Failed password for root #{n}"}],
        "window_start": at, "window_end": at, "backfill": False, "status": "new", "suppression_id": None,
        "created_at": at,
    } | fields  # fmt: skip


def add(engine: Engine, *rows: dict[str, Any]) -> None:
    with session_scope(engine) as s:
        write_alerts(s, list(rows), T0)


def test_it_walks_the_status_flow_with_stamps_history_and_audit(db: Engine) -> None:
    add(db, row("so-a", 1))
    now = T0 + timedelta(hours=1)
    with session_scope(db) as s:
        me = who(s, "analyst")
        triage.apply(s, me, ["so-a-1"], "acknowledge", now=now)
        triage.apply(
            s,
            me,
            ["so-a-1"],
            "close",
            resolution="false_positive",
            reason="scanner",
            now=now + timedelta(minutes=5),
        )
    with session_scope(db) as s:
        alert = s.get(Alert, "so-a-1")
        assert alert is not None
        assert (alert.status, alert.resolution) == ("closed", "false_positive")
        assert alert.acknowledged_at == now
        assert alert.closed_at == now + timedelta(minutes=5)
        assert alert.in_progress_at == now + timedelta(minutes=5)  # skipped stage stamped on the way
        history = s.scalars(select(AlertTransition).order_by(AlertTransition.id)).all()
        assert [(h.actor, h.field, h.from_value, h.to_value, h.reason) for h in history] == [
            ("analyst", "status", "new", "acknowledged", None),
            ("analyst", "status", "acknowledged", "closed", "scanner"),
            ("analyst", "resolution", None, "false_positive", "scanner"),
        ]
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "alert")).all()
        assert actions == ["alert.acknowledge", "alert.close"]


def test_it_reopens_only_with_a_reason_and_clears_the_resolution(db: Engine) -> None:
    add(db, row("so-a", 1))
    with session_scope(db) as s:
        me = who(s, "analyst")
        triage.apply(s, me, ["so-a-1"], "close", resolution="benign", reason="backup job")
        with pytest.raises(Invalid, match="reason"):
            triage.apply(s, me, ["so-a-1"], "reopen")
        triage.apply(s, me, ["so-a-1"], "reopen", reason="it came back")
        alert = s.get(Alert, "so-a-1")
        assert alert is not None
        assert (alert.status, alert.resolution) == ("in_progress", None)


def test_it_refuses_closing_without_resolution_or_reason(db: Engine) -> None:
    add(db, row("so-a", 1))
    with session_scope(db) as s:
        me = who(s, "analyst")
        with pytest.raises(Invalid, match="resolution"):
            triage.apply(s, me, ["so-a-1"], "close", reason="x")
        with pytest.raises(Invalid, match="reason"):
            triage.apply(s, me, ["so-a-1"], "close", resolution="benign")


def test_it_skips_moves_the_flow_does_not_allow_in_bulk_and_refuses_them_when_strict(db: Engine) -> None:
    add(db, row("so-a", 1), row("so-a", 2))
    with session_scope(db) as s:
        me = who(s, "analyst")
        triage.apply(s, me, ["so-a-1"], "start")
        outcome = triage.apply(s, me, ["so-a-1", "so-a-2"], "acknowledge")
        assert outcome.changed == ["so-a-2"]
        assert "so-a-1" in outcome.skipped
        with pytest.raises(Invalid, match="cannot go from in_progress to acknowledged"):
            triage.apply(s, me, ["so-a-1"], "acknowledge", strict=True)


def test_it_refuses_a_stale_version_with_who_changed_it_and_changes_nothing(db: Engine) -> None:
    add(db, row("so-a", 1), row("so-a", 2))
    with session_scope(db) as s:
        seen = {a.id: triage.version_of(a) for a in s.scalars(select(Alert))}
        triage.apply(s, who(s, "oncall"), ["so-a-1"], "acknowledge")
    with session_scope(db) as s, pytest.raises(Conflict, match="changed by oncall"):
        triage.apply(
            s,
            who(s, "analyst"),
            ["so-a-2", "so-a-1"],
            "close",
            resolution="benign",
            reason="x",
            versions=seen,
        )
    with session_scope(db) as s:
        assert s.get(Alert, "so-a-2").status == "new"  # type: ignore[union-attr]
        assert s.get(Alert, "so-a-1").status == "acknowledged"  # type: ignore[union-attr]


def test_it_refuses_a_whole_bulk_with_a_foreign_id_without_touching_anything(db: Engine) -> None:
    add(db, row("so-a", 1), row("so-b", 1))
    oncall_a = Principal("oncall_a", None, frozenset({"oncall"}), frozenset({"so-a"}))
    with session_scope(db) as s, pytest.raises(NotFound):
        triage.apply(s, oncall_a, ["so-a-1", "so-b-1"], "acknowledge")
    with session_scope(db) as s:
        assert {a.status for a in s.scalars(select(Alert))} == {"new"}
        assert s.scalar(select(AlertTransition)) is None


def test_it_keeps_officers_to_their_agency_and_out_of_triage(db: Engine) -> None:
    add(db, row("so-a", 1), row("so-b", 1))
    with session_scope(db) as s:
        officer = who(s, "officer_a")
        assert triage.get(s, officer, "so-a-1").id == "so-a-1"
        with pytest.raises(NotFound):
            triage.get(s, officer, "so-b-1")
        with pytest.raises(Forbidden):
            triage.apply(s, officer, ["so-a-1"], "acknowledge")
        with pytest.raises(NotFound):
            triage.comment(s, officer, "so-b-1", "hello")
        assert triage.comment(s, officer, "so-a-1", "checked, it is our backup").author == "officer_a"
        with pytest.raises(Forbidden):
            triage.get(s, who(s, "outsider"), "so-a-1")


def test_it_assigns_only_to_users_who_see_the_agency(db: Engine) -> None:
    add(db, row("so-a", 1))
    with session_scope(db) as s:
        me = who(s, "analyst")
        with pytest.raises(Invalid, match="cannot see"):
            triage.apply(s, me, ["so-a-1"], "assign", assignee="officer_b")
        with pytest.raises(Invalid, match="no active user"):
            triage.apply(s, me, ["so-a-1"], "assign", assignee="nobody")
        with pytest.raises(Invalid, match="may not read"):
            triage.apply(s, me, ["so-a-1"], "assign", assignee="outsider")
        triage.apply(s, me, ["so-a-1"], "assign", assignee="officer_a")
        triage.apply(s, me, ["so-a-1"], "assign", assignee="me")
        assert s.get(Alert, "so-a-1").assignee == "analyst"  # type: ignore[union-attr]


def test_it_pages_by_keyset_without_gaps_or_repeats_in_every_sort(db: Engine) -> None:
    rows = [
        row("so-a" if n % 3 else "so-b", n, level=aq.LEVELS[n % 5], count=n % 7 + 1, status=aq.OPEN[n % 3])
        for n in range(57)
    ]
    add(db, *rows)
    with session_scope(db) as s:
        me = who(s, "analyst")
        triage.apply(s, me, [r["id"] for r in rows[::5]], "close", resolution="benign", reason="x")
        closed = {r["id"] for r in rows[::5]}
        cases = [(sort, f) for sort in aq.SORTS for f in (aq.AlertFilter(), aq.AlertFilter(status=()))]
        for sort, f in cases:
            seen: list[str] = []
            cursor = None
            while True:
                page = aq.page(s, me, f, sort=sort, cursor=cursor, size=10)
                seen += [a.id for a in page.alerts]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            expected = [r["id"] for r in rows if not f.status or r["id"] not in closed]
            assert sorted(seen) == sorted(expected), (sort, f.status)
            assert len(seen) == len(set(seen))
        newest = aq.page(s, me, aq.AlertFilter(status=()), sort="newest", size=3).alerts
        assert [a.id for a in newest] == ["so-a-56", "so-a-55", "so-b-54"]
        severe = aq.page(s, me, aq.AlertFilter(status=()), sort="severity", size=60).alerts
        assert [a.level for a in severe] == sorted((a.level for a in severe), key=aq.LEVELS.index)


def test_it_filters_and_never_leaks_another_agency(db: Engine) -> None:
    add(db, row("so-a", 1, host="db1"), row("so-a", 2, user_name="backup"), row("so-b", 3, host="db1"))
    with session_scope(db) as s:
        officer = who(s, "officer_a")
        analyst = who(s, "analyst")

        def ids(p: Principal, **params: Any) -> list[str]:
            return sorted(a.id for a in aq.page(s, p, aq.parse_filter(params)).alerts)

        assert ids(officer) == ["so-a-1", "so-a-2"]
        assert ids(officer, agency="so-b") == []
        assert aq.count(s, officer, aq.parse_filter({"agency": "so-b"})) == 0
        assert [g.count for g in aq.grouped(s, officer, aq.parse_filter({"agency": "so-b"}))] == []
        assert ids(officer, q="db1") == ["so-a-1"]
        assert ids(analyst, q="db1") == ["so-a-1", "so-b-3"]
        assert ids(analyst, q="BACKUP") == ["so-a-2"]
        assert ids(analyst, q="so-b-3") == ["so-b-3"]
        assert ids(analyst, since="2026-11-27T08:02", until="2026-11-27T08:03") == ["so-a-2"]  # +07:00
        triage.apply(s, analyst, ["so-a-1"], "assign", assignee="me")
        assert ids(analyst, assignee="me") == ["so-a-1"]
        assert ids(analyst, assignee="unassigned") == ["so-a-2", "so-b-3"]
        triage.apply(s, analyst, ["so-a-2"], "close", resolution="benign", reason="x")
        assert ids(analyst) == ["so-a-1", "so-b-3"]  # open by default
        assert ids(analyst, status="closed") == ["so-a-2"]
        by_agency = {
            g.key: g.count for g in aq.grouped(s, officer, aq.parse_filter({"status": "all"}), "agency")
        }
        assert by_agency == {"so-a": 2}


def test_it_lists_the_alerts_of_a_notification_group(db: Engine) -> None:
    add(db, row("so-a", 1), row("so-a", 2), row("so-b", 3))
    with session_scope(db) as s:
        grouping.on_new_alerts(s, ["so-a-1", "so-a-2", "so-b-3"], T0)
        group = s.scalar(select(AlertGroup).where(AlertGroup.agency == "so-a"))
        assert group is not None
        found = aq.page(s, who(s, "analyst"), aq.parse_filter({"group": group.public_id})).alerts
        assert sorted(a.id for a in found) == ["so-a-1", "so-a-2"]
        assert aq.page(s, who(s, "officer_b"), aq.parse_filter({"group": group.public_id})).alerts == []


def test_it_refuses_a_damaged_or_foreign_cursor(db: Engine) -> None:
    with session_scope(db) as s:
        me = who(s, "analyst")
        with pytest.raises(Invalid):
            aq.page(s, me, aq.AlertFilter(), cursor="!!!")
        add(db, row("so-a", 1), row("so-a", 2))
        cursor = aq.page(s, me, aq.AlertFilter(), size=1).next_cursor
        assert cursor
        with pytest.raises(Invalid, match="another sort"):
            aq.page(s, me, aq.AlertFilter(), sort="count", cursor=cursor)


def test_closing_every_alert_of_a_group_in_triage_sends_the_resolved_mail(db: Engine) -> None:
    add(db, row("so-a", 1), row("so-a", 2))
    svc = NotifyService(OncallConfig(), secret_key="k" * 40, base_url="http://soc.test")
    with session_scope(db) as s:
        grouping.on_new_alerts(s, ["so-a-1", "so-a-2"], T0)
        svc.tick(s, T0 + timedelta(minutes=1))  # the first notice pages the on-call role
    with session_scope(db) as s:
        me = who(s, "analyst")
        triage.apply(s, me, ["so-a-1"], "close", resolution="true_positive", reason="blocked")
        svc.tick(s, T0 + timedelta(minutes=2))
        assert s.scalar(select(AlertGroup.state)) == "firing"  # one alert still open
        triage.apply(s, me, ["so-a-2"], "close", resolution="true_positive", reason="blocked")
    with session_scope(db) as s:
        svc.tick(s, T0 + timedelta(minutes=3))
    with session_scope(db) as s:
        assert s.scalar(select(AlertGroup.state)) == "resolved"
        kinds = s.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert kinds == ["firing", "resolved"]


def test_acknowledging_in_triage_stops_the_groups_paging_like_the_mail_link(db: Engine) -> None:
    add(db, row("so-a", 1), row("so-a", 2))
    svc = NotifyService(OncallConfig(), secret_key="k" * 40, base_url="http://soc.test")
    with session_scope(db) as s:
        grouping.on_new_alerts(s, ["so-a-1", "so-a-2"], T0)
        svc.tick(s, T0 + timedelta(minutes=1))
        assert s.scalar(select(AlertGroup.state)) == "firing"
    with session_scope(db) as s:
        triage.apply(s, who(s, "analyst"), ["so-a-1"], "assign", assignee="analyst", notify=svc)
        assert s.scalar(select(AlertGroup.state)) == "firing"  # assigning alone is not "on it"
        triage.apply(
            s, who(s, "analyst"), ["so-a-1"], "acknowledge", notify=svc, now=T0 + timedelta(minutes=2)
        )
    with session_scope(db) as s:
        group = s.scalars(select(AlertGroup)).one()
        assert group.state == "acknowledged"
        assert group.acked_by == "analyst"
        assert group.escalation_next_at is None


def test_suppress_similar_by_fields_counts_new_matches_and_closes_open_ones(db: Engine) -> None:
    add(db, row("so-a", 1, host="web1"), row("so-a", 2, host="web1"), row("so-a", 3, host="web2"),
        row("so-b", 4, host="web1"))  # fmt: skip
    now = T0 + timedelta(hours=1)
    with session_scope(db) as s:
        created = suppress.suppress_similar(
            s, who(s, "analyst"), "so-a-1", fields={"host.name": "web1", "organization.id": "so-a"},
            reason="patch test host", expires_at=now + timedelta(days=7), close_matching=True, now=now,
        )  # fmt: skip
        assert sorted(created.closed) == ["so-a-1", "so-a-2"]
        assert created.suppression.owner == "analyst"
        assert created.suppression.rule_id == "r-ssh"
    with session_scope(db) as s:
        assert s.get(Alert, "so-a-1").resolution == "false_positive"  # type: ignore[union-attr]
        assert s.get(Alert, "so-a-3").status == "new"  # type: ignore[union-attr]
        assert s.get(Alert, "so-b-4").status == "new"  # type: ignore[union-attr]
        write_alerts(s, [row("so-a", 9, host="web1"), row("so-a", 10, host="web2")], now)
        assert s.get(Alert, "so-a-9").status == "suppressed"  # type: ignore[union-attr]
        assert s.get(Alert, "so-a-10").status == "new"  # type: ignore[union-attr]
        assert s.scalar(select(Suppression.hits)) == 1


def test_suppress_similar_with_a_sigma_filter(db: Engine) -> None:
    add(db, row("so-a", 1))
    now = T0 + timedelta(hours=1)
    sigma = "selection:\n  source.ip|cidr: 203.0.113.0/24\n  user.name: root\nfilter:\n  host.name: web2\n" \
            "condition: selection and not filter\n"  # fmt: skip
    with session_scope(db) as s:
        made = suppress.suppress_similar(
            s, who(s, "analyst"), "so-a-1", sigma=sigma, reason="pentest range",
            expires_at=now + timedelta(days=1), now=now,
        )  # fmt: skip
        assert made.suppression.match == {"sigma": sigma.strip()}
        write_alerts(
            s,
            [row("so-a", 3, host="web0"), row("so-a", 5, host="web2"), row("so-a", 6, source_ip="10.0.0.1")],
            now,
        )
        assert {a.id: a.status for a in s.scalars(select(Alert).where(Alert.id != "so-a-1"))} == {
            "so-a-3": "suppressed", "so-a-5": "new", "so-a-6": "new",
        }  # fmt: skip


@pytest.mark.parametrize(
    ("sigma", "message"),
    [
        ("selection: [", "not valid YAML"),
        ("- a\n- b", "must be a detection"),
        ("selection:\n  process.command_line: x", "does not keep"),
        ("selection:\n  source.ip: not-an-ip", "refused"),
        ("selection:\n  host.name: a\ncondition: selection and nothing", "refused"),
    ],
)
def test_suppress_similar_refuses_a_bad_sigma_filter(db: Engine, sigma: str, message: str) -> None:
    add(db, row("so-a", 1))
    with session_scope(db) as s, pytest.raises(Invalid, match=message):
        suppress.suppress_similar(
            s, who(s, "analyst"), "so-a-1", sigma=sigma, reason="r", expires_at=T0 + timedelta(days=1), now=T0
        )


def test_suppress_similar_needs_reason_expiry_within_90_days_and_the_role(db: Engine) -> None:
    add(db, row("so-a", 1))
    with session_scope(db) as s:
        me = who(s, "analyst")
        fields = {"host.name": "web1"}
        for kwargs, message in (
            ({"reason": " ", "expires_at": T0 + timedelta(days=1)}, "reason"),
            ({"reason": "r", "expires_at": None}, "expiry"),
            ({"reason": "r", "expires_at": T0 - timedelta(days=1)}, "future"),
            ({"reason": "r", "expires_at": T0 + timedelta(days=91)}, "90 days"),
        ):
            with pytest.raises(Invalid, match=message):
                suppress.suppress_similar(s, me, "so-a-1", fields=fields, now=T0, **kwargs)
        with pytest.raises(Invalid, match="not a field"):
            suppress.suppress_similar(s, me, "so-a-1", fields={"process.name": "x"}, reason="r",
                                      expires_at=T0 + timedelta(days=1), now=T0)  # fmt: skip
        with pytest.raises(Forbidden):
            suppress.suppress_similar(s, who(s, "oncall"), "so-a-1", fields=fields, reason="r",
                                      expires_at=T0 + timedelta(days=1), now=T0)  # fmt: skip
