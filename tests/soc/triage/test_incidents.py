"""Incident service: escalation (create, attach, unlink) with alert history and audit, one agency per
incident, scoping, reporting timers on a fake clock, and reminders enqueued once per stage."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from soc import settings as settings_mod
from soc.db import accounts, migrate
from soc.db.detection import Alert
from soc.db.models import AuditEntry, User
from soc.db.notify import OutboxMessage
from soc.db.session import make_engine, session_scope
from soc.db.triage import AlertTransition, Incident, IncidentNote
from soc.notify.runner import jobs_for
from soc.triage import incident_reminders
from soc.triage import incidents as svc
from soc.triage.principal import Conflict, Forbidden, NotFound, Principal

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
ACTORS: dict[str, list[tuple[str, str | None]]] = {
    "analyst": [("soc_analyst", None)],
    "admin": [("admin", None)],
    "oncall": [("oncall", None)],
    "officer_a": [("agency_officer", "so-a")],
    "officer_b": [("agency_officer", "so-b")],
    "outsider": [],
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrations and password hashing once per module; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("incidents") / "app.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        accounts.add_agency(s, "so-a", "Sở A", actor="test")
        accounts.add_agency(s, "so-b", "Sở B", actor="test")
        for name, roles in ACTORS.items():
            accounts.add_user(
                s, username=name, password="correct horse battery staple", email=f"{name}@example.vn",
                full_name=name, locale="vi" if name == "admin" else "en", roles=roles, actor="test",
            )  # fmt: skip
        for agency, n in (("so-a", 1), ("so-a", 2), ("so-a", 3), ("so-b", 1)):
            s.add(Alert(**alert_row(agency, n)))
    engine.dispose()
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "app.db"
    shutil.copyfile(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def alert_row(agency: str | None, n: int) -> dict[str, Any]:
    at = T0 + timedelta(minutes=n)
    return {
        "id": f"{agency}-{n}", "rule_id": "r-ssh", "rule_version": "1", "rule_title": "SSH brute force",
        "level": "high", "agency": agency, "host": f"web{n}", "user_name": "root", "source_ip": "203.0.113.9",
        "first_at": at, "last_at": at, "window_start": at, "window_end": at, "created_at": at,
        "events": [{"index": "i", "id": f"e{n}", "original": "Failed password"}],
    }  # fmt: skip


def who(session: Session, name: str) -> Principal:
    user = session.scalar(select(User).where(User.username == name))
    assert user is not None
    return Principal.of(user)


def open_incident(
    db: Engine, *ids: str, severity: str = "high", serious: bool = False, by: str = "analyst"
) -> int:
    with session_scope(db) as s:
        incident = svc.escalate(
            s, who(s, by), list(ids), now=T0, title="Brute force", severity=severity, serious=serious
        )
        return incident.id


def test_it_opens_an_incident_from_alerts_with_history_notes_and_audit(db: Engine) -> None:
    iid = open_incident(db, "so-a-1", "so-a-2")
    with session_scope(db) as s:
        incident = svc.get(s, who(s, "analyst"), iid)
        assert (incident.agency, incident.status, incident.created_by) == ("so-a", "open", "analyst")
        assert [a.id for a in svc.alerts_of(s, who(s, "analyst"), incident)] == ["so-a-1", "so-a-2"]
        moves = s.scalars(select(AlertTransition).where(AlertTransition.field == "incident")).all()
        assert sorted((m.alert_id, m.from_value, m.to_value, m.actor) for m in moves) == [
            ("so-a-1", None, str(iid), "analyst"),
            ("so-a-2", None, str(iid), "analyst"),
        ]
        [note] = s.scalars(select(IncidentNote)).all()
        assert "so-a-1" in note.body
        assert "host web1" in note.body
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.target_type == "incident")).all()
        assert (entry.action, entry.actor, entry.detail["alerts"]) == (
            "incident.create",
            "analyst",
            ["so-a-1", "so-a-2"],
        )
        assert entry.agency_id == accounts.require_agency(s, "so-a").id


def test_it_attaches_alerts_to_an_existing_incident_and_unlinks_them(db: Engine) -> None:
    iid = open_incident(db, "so-a-1")
    with session_scope(db) as s:
        me = who(s, "analyst")
        svc.escalate(s, me, ["so-a-2", "so-a-1"], now=T0 + timedelta(minutes=5), incident_id=iid)
        svc.unlink(s, me, iid, "so-a-1", now=T0 + timedelta(minutes=6), reason="not related")
    with session_scope(db) as s:
        assert s.get_one(Alert, "so-a-1").incident_id is None
        assert s.get_one(Alert, "so-a-2").incident_id == iid
        last = s.scalars(
            select(AlertTransition).where(AlertTransition.alert_id == "so-a-1").order_by(AlertTransition.id)
        ).all()[-1]
        assert (last.from_value, last.to_value, last.reason) == (str(iid), None, "not related")
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "incident")).all()
        assert actions == ["incident.create", "incident.attach", "incident.unlink"]


def test_it_refuses_alerts_of_two_agencies_in_one_incident(db: Engine) -> None:
    with session_scope(db) as s, pytest.raises(svc.IncidentError) as refused:
        svc.escalate(s, who(s, "analyst"), ["so-a-1", "so-b-1"], now=T0, title="x", severity="low")
    assert refused.value.key == "incidents.error.mixed"
    assert "so-a, so-b" in str(refused.value)


def test_it_refuses_to_attach_alerts_of_another_agency(db: Engine) -> None:
    iid = open_incident(db, "so-a-1")
    with session_scope(db) as s, pytest.raises(svc.IncidentError) as refused:
        svc.escalate(s, who(s, "analyst"), ["so-b-1"], now=T0, incident_id=iid)
    assert refused.value.key == "incidents.error.other_agency"


def test_it_refuses_an_alert_already_in_another_incident(db: Engine) -> None:
    open_incident(db, "so-a-1")
    with session_scope(db) as s, pytest.raises(svc.IncidentError) as refused:
        svc.escalate(s, who(s, "analyst"), ["so-a-1"], now=T0, title="again", severity="low")
    assert refused.value.key == "incidents.error.linked"


def test_it_hides_incidents_and_alerts_of_other_agencies(db: Engine) -> None:
    a = open_incident(db, "so-a-1")
    b = open_incident(db, "so-b-1")
    with session_scope(db) as s:
        officer = who(s, "officer_a")
        assert [i.id for i in svc.list_incidents(s, officer, svc.IncidentFilter()).incidents] == [a]
        assert svc.list_incidents(s, officer, svc.IncidentFilter(agency=("so-b",))).total == 0
        assert svc.list_incidents(s, officer, svc.IncidentFilter()).counts == {"open": 1}
        with pytest.raises(NotFound):
            svc.get(s, officer, b)
        assert svc.list_incidents(s, who(s, "analyst"), svc.IncidentFilter()).total == 2


def test_agency_officers_and_oncall_may_read_but_not_change_incidents(db: Engine) -> None:
    iid = open_incident(db, "so-a-1")
    with session_scope(db) as s:
        for name in ("officer_a", "oncall"):
            with pytest.raises(Forbidden):
                svc.add_note(s, who(s, name), iid, "hello", now=T0)
        with pytest.raises(Forbidden):
            svc.get(s, who(s, "outsider"), iid)


def test_escalating_an_invisible_alert_is_not_found(db: Engine) -> None:
    with session_scope(db) as s, pytest.raises(NotFound):
        svc.escalate(s, who(s, "analyst"), ["no-such-alert"], now=T0, title="x", severity="low")


def test_the_initial_notice_is_due_in_24_hours_and_only_serious_incidents_need_a_full_report(
    db: Engine,
) -> None:
    plain = open_incident(db, "so-a-1", severity="high")
    ticked = open_incident(db, "so-a-2", severity="medium", serious=True)
    critical = open_incident(db, "so-a-3", severity="critical")
    with session_scope(db) as s:
        me = who(s, "analyst")
        kinds = {
            i: [(x.kind, x.due_at - T0) for x in svc.timers(svc.get(s, me, i), T0)]
            for i in (plain, ticked, critical)
        }
    day, three = timedelta(hours=24), timedelta(hours=72)
    assert kinds[plain] == [("initial_notice", day)]
    assert kinds[ticked] == [("initial_notice", day), ("full_report", three)]
    assert kinds[critical] == [("initial_notice", day), ("full_report", three)]


def test_timers_turn_soon_then_overdue_and_done_once_recorded(db: Engine) -> None:
    iid = open_incident(db, "so-a-1")
    with session_scope(db) as s:
        incident = svc.get(s, who(s, "analyst"), iid)
        states = [svc.timers(incident, T0 + timedelta(hours=h))[0].state for h in (1, 22.5, 24, 30)]
        assert states == ["pending", "soon", "overdue", "overdue"]
        svc.record_report(s, who(s, "analyst"), iid, "initial_notice", now=T0 + timedelta(hours=25))
        [timer] = svc.timers(incident, T0 + timedelta(hours=30))
        assert (timer.state, timer.done_at) == ("done", T0 + timedelta(hours=25))
        with pytest.raises(svc.IncidentError):
            svc.record_report(s, who(s, "analyst"), iid, "initial_notice", now=T0 + timedelta(hours=26))
        with pytest.raises(svc.IncidentError):
            svc.record_report(s, who(s, "analyst"), iid, "full_report", now=T0 + timedelta(hours=26))
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "incident.initial_notice"))


def test_raising_severity_to_critical_starts_the_full_report_clock(db: Engine) -> None:
    iid = open_incident(db, "so-a-1", severity="low")
    with session_scope(db) as s:
        me = who(s, "analyst")
        incident = svc.update(s, me, iid, now=T0 + timedelta(hours=1), severity="critical")
        assert incident.serious
        assert incident.full_report_due == T0 + timedelta(hours=72)
        svc.update(s, me, iid, now=T0 + timedelta(hours=2), severity="medium", serious=False)
        assert incident.full_report_due is None
        changes = s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "incident.update")).all()
        assert changes[0]["changes"] == {"severity": ["low", "critical"], "serious": [False, True]}


def test_it_changes_status_and_owner_and_refuses_a_stale_version(db: Engine) -> None:
    iid = open_incident(db, "so-a-1")
    with session_scope(db) as s:
        me = who(s, "analyst")
        incident = svc.get(s, me, iid)
        seen = incident.version
        svc.update(s, me, iid, now=T0, status="contained", owner="admin", version=seen)
        assert (incident.status, incident.owner) == ("contained", "admin")
        with pytest.raises(Conflict):
            svc.update(s, me, iid, now=T0, status="closed", version=seen)
        svc.update(s, me, iid, now=T0 + timedelta(hours=3), status="closed")
        assert incident.closed_at == T0 + timedelta(hours=3)
        with pytest.raises(svc.IncidentError):
            svc.update(s, me, iid, now=T0, owner="officer_a")  # cannot own incidents


def test_reminders_are_enqueued_once_per_stage(db: Engine) -> None:
    iid = open_incident(db, "so-a-1", severity="critical")
    with session_scope(db) as s:
        svc.update(s, who(s, "analyst"), iid, now=T0, owner="admin")
    with session_scope(db) as s:
        assert incident_reminders.due_reminders(s, T0 + timedelta(hours=20)) == []
        first = incident_reminders.due_reminders(
            s, T0 + timedelta(hours=22, minutes=30), base_url="https://soc.example"
        )
        again = incident_reminders.due_reminders(s, T0 + timedelta(hours=23))
    assert [(r.kind, r.stage, r.recipients) for r in first] == [
        ("initial_notice", "soon", ("admin", "analyst"))
    ]
    assert again == []
    with session_scope(db) as s:
        late = incident_reminders.due_reminders(s, T0 + timedelta(hours=25))
        assert [(r.kind, r.stage) for r in late] == [("initial_notice", "overdue")]
        assert incident_reminders.due_reminders(s, T0 + timedelta(hours=26)) == []
        mails = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert len(mails) == 4
    assert {m.kind for m in mails} == {"reminder"}
    vi = next(m for m in mails if m.recipient == "admin@example.vn")
    en = next(m for m in mails if m.recipient == "analyst@example.vn")
    assert "Sự cố #" in vi.subject
    assert "thông báo ban đầu" in vi.body_text
    assert "initial notice" in en.subject
    assert f"https://soc.example/incidents/{iid}" in en.body_text
    assert "+07:00" in en.body_text


def test_no_reminders_once_reported_or_closed(db: Engine) -> None:
    reported = open_incident(db, "so-a-1")
    closed = open_incident(db, "so-a-2")
    with session_scope(db) as s:
        me = who(s, "analyst")
        svc.record_report(s, me, reported, "initial_notice", now=T0 + timedelta(hours=1))
        svc.update(s, me, closed, now=T0 + timedelta(hours=1), status="closed")
    with session_scope(db) as s:
        assert incident_reminders.due_reminders(s, T0 + timedelta(hours=30)) == []


def test_full_report_reminders_follow_their_own_clock(db: Engine) -> None:
    iid = open_incident(db, "so-b-1", serious=True)
    with session_scope(db) as s:
        svc.record_report(s, who(s, "analyst"), iid, "initial_notice", now=T0 + timedelta(hours=2))
    with session_scope(db) as s:
        due = incident_reminders.due_reminders(s, T0 + timedelta(hours=71))
    assert [(r.kind, r.stage, r.recipients) for r in due] == [("full_report", "soon", ("analyst",))]


def test_the_notification_runner_enqueues_incident_reminders(db: Engine, tmp_path: Path) -> None:
    with session_scope(db) as s:
        incident = s.get_one(Incident, open_incident(db, "so-a-1"))
        incident.initial_notice_due = datetime.now(UTC) - timedelta(minutes=1)
    settings = settings_mod.load(
        environ={}, data_dir=tmp_path, secret_key="k" * 40, base_url="https://soc.example"
    )
    jobs = jobs_for(settings, db)
    with session_scope(db) as s:
        queued = jobs.service.tick(s, datetime.now(UTC))
    assert queued == 0
    jobs.worker.run_once = lambda: 0  # type: ignore[method-assign]  # no SMTP here: the outbox row is what counts
    assert jobs.run_once() == (1, 0)
    assert jobs.run_once() == (0, 0)
    with session_scope(db) as s:
        [mail] = s.scalars(select(OutboxMessage)).all()
    assert "OVERDUE" in mail.subject
    assert "https://soc.example/incidents/" in mail.body_text
