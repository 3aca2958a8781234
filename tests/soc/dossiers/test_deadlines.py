"""Deadline timers, the overdue list, reminders and escalations at an injected clock, the outbox."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from sqlalchemy import select

from soc.db.dossiers import Dossier
from soc.db.notify import OutboxMessage
from soc.dossiers import deadlines
from soc.dossiers.reminders import enqueue_due
from tests.soc.dossiers.conftest import World

SUBMITTED_AT = datetime(2026, 2, 13, 3, 0, tzinfo=UTC)
"""Friday 13/2/2026, 10:00 in Vietnam, just before Tết: the 5-working-day reply is due 27/2."""


def at(day: int, month: int = 2) -> datetime:
    return datetime(2026, month, day, 2, 0, tzinfo=UTC)


def submitted(w: World, level: int = 3) -> Dossier:
    d = w.dossier(level)
    w.ready(d)
    w.act("officer_a", d, "submit", now=SUBMITTED_AT)
    return d


def test_it_runs_the_completeness_timer_across_tet(world: World) -> None:
    d = submitted(world)

    [timer] = deadlines.timers(world.session, world.service)

    assert (timer.dossier_id, timer.deadline.name, timer.due_on) == (
        d.id,
        "completeness_reply",
        date(2026, 2, 27),
    )


def test_it_runs_no_appraisal_timer_for_level_2(world: World) -> None:
    d = submitted(world, level=2)
    world.act("appraiser", d, "accept_complete", now=at(16))

    assert deadlines.timers(world.session, world.service) == []


def test_it_counts_25_working_days_for_a_level_4_appraisal(world: World) -> None:
    d = world.dossier(4)
    world.ready(d)
    world.act("officer_a", d, "request_opinion")
    world.upload("appraiser", d, "specialised_opinion")
    world.act("appraiser", d, "give_opinion")
    world.act("officer_a", d, "submit", now=at(2, 3))
    world.act("mps_appraiser", d, "accept_complete", now=at(3, 3))

    [timer] = deadlines.timers(world.session, world.service)
    # 25 working days from Tuesday 3/3/2026: five full weeks, no holiday in between.
    assert (timer.deadline.name, timer.due_on) == ("appraisal", date(2026, 4, 7))


def test_it_lists_a_dossier_as_overdue_only_after_its_last_day(world: World) -> None:
    submitted(world)

    assert deadlines.overdue(world.session, world.service, at(27)) == []
    assert [t.deadline.name for t in deadlines.overdue(world.session, world.service, at(2, 3))] == [
        "completeness_reply"
    ]


def test_it_reminds_whoever_has_the_turn_three_and_one_working_days_ahead(world: World) -> None:
    submitted(world)
    s, svc = world.session, world.service

    assert deadlines.due_reminders(s, at(23), svc) == []
    [first] = deadlines.due_reminders(s, at(24), svc)
    assert (first.kind, first.days_before, first.recipients) == ("reminder", 3, ("appraiser",))
    deadlines.mark_sent(s, first, at(24))
    assert deadlines.due_reminders(s, at(25), svc) == []
    [second] = deadlines.due_reminders(s, at(26), svc)
    assert second.days_before == 1


def test_it_sends_only_the_nearest_reminder_after_a_late_run(world: World) -> None:
    submitted(world)

    [only] = deadlines.due_reminders(world.session, at(26), world.service)

    assert only.days_before == 1


def test_it_escalates_a_missed_deadline_to_the_approver_and_admins(world: World) -> None:
    submitted(world)

    [escalation] = deadlines.due_reminders(world.session, at(2, 3), world.service)

    assert escalation.kind == "escalation"
    assert escalation.recipients == ("admin", "approver")


def test_it_stops_the_clock_when_the_dossier_moves_on(world: World) -> None:
    d = submitted(world)
    world.act("appraiser", d, "accept_complete", now=at(20))

    assert deadlines.due_reminders(world.session, at(2, 3), world.service) == []


def test_it_hands_escalations_to_the_outbox_once(world: World) -> None:
    submitted(world)

    sent = enqueue_due(world.session, world.service, at(2, 3))
    again = enqueue_due(world.session, world.service, at(3, 3))

    rows = world.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.kind for r in sent] == ["escalation"]
    assert again == []
    assert sorted(r.recipient for r in rows) == ["admin@cantho.gov.vn", "approver@cantho.gov.vn"]
    assert "QUÁ HẠN" in rows[0].subject
    assert "27/02/2026" in rows[0].body_text


def test_it_links_the_e_mail_to_the_dossier_page(world: World) -> None:
    world.service = dataclasses.replace(world.service, base_url="https://soc.cantho.gov.vn")
    d = submitted(world)

    enqueue_due(world.session, world.service, at(2, 3))

    row = world.session.scalars(select(OutboxMessage)).first()
    assert row is not None
    assert f"https://soc.cantho.gov.vn/dossiers/{d.id}\n" in row.body_text
    assert f'<a href="https://soc.cantho.gov.vn/dossiers/{d.id}">' in (row.body_html or "")
