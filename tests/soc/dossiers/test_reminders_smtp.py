"""Dossier reminders end to end: `enqueue_due` on an injected clock, every working morning across
Tết 2026, drained by the real OutboxWorker through the real Email notifier to a real SMTP server
(aiosmtpd, MailSink). The completeness reply on a dossier submitted on Friday 13/2/2026 is due
Friday 27/2 (5 working days, the Tết holidays skipped): the appraiser is reminded 3 and 1 working
days before it (Tuesday 24/2 and Thursday 26/2), and the approver and the admins get the overdue
escalation the first morning after the last day — Saturday 28/2: the escalation waits for no
working day (deadlines.due_reminders escalates as soon as the last day has passed)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine

from soc.dossiers.reminders import enqueue_due
from soc.notify.email import Email, SmtpConfig
from soc.notify.outbox import OutboxWorker
from soc.notify.sink import MailSink
from tests.soc.dossiers.conftest import World
from tests.soc.dossiers.test_deadlines import submitted
from tests.soc.notify.conftest import sink

__all__ = ["sink"]  # the real SMTP server fixture, shared with the notification tests
BASE_URL = "https://soc.cantho.gov.vn"


def morning(day: date) -> datetime:
    """09:00 in Vietnam."""
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


def run_days(world: World, sink: MailSink, first: date, last: date) -> dict[date, list[EmailMessage]]:
    """Each morning: enqueue what is due, then drain the outbox at the same clock; what arrived."""
    service = dataclasses.replace(world.service, base_url=BASE_URL)
    engine = world.session.get_bind()
    assert isinstance(engine, Engine)
    clock = {"now": morning(first)}
    smtp = Email(SmtpConfig(host="127.0.0.1", port=sink.port, security="plain", timeout_seconds=5))
    worker = OutboxWorker(engine, {"primary": smtp}, clock=lambda: clock["now"])
    arrived: dict[date, list[EmailMessage]] = {}
    day = first
    while day <= last:
        clock["now"] = morning(day)
        before = len(sink.messages)
        enqueue_due(world.session, service, clock["now"])
        world.session.commit()
        worker.run_once()
        if len(sink.messages) > before:
            arrived[day] = sink.messages[before:]
        day += timedelta(days=1)
    return arrived


def to(messages: list[EmailMessage]) -> list[str]:
    return sorted(str(m["To"]) for m in messages)


def test_reminders_and_the_escalation_arrive_on_the_right_working_days(world: World, sink: MailSink) -> None:
    d = submitted(world)  # Friday 13/2/2026, before Tết
    world.session.commit()

    arrived = run_days(world, sink, date(2026, 2, 13), date(2026, 3, 6))

    assert sorted(arrived) == [date(2026, 2, 24), date(2026, 2, 26), date(2026, 2, 28)]
    first, second, overdue = (arrived[k] for k in sorted(arrived))
    assert to(first) == to(second) == ["appraiser@cantho.gov.vn"]
    assert to(overdue) == ["admin@cantho.gov.vn", "approver@cantho.gov.vn"]
    reply = "Trả lời về tính đầy đủ của hồ sơ"
    assert str(first[0]["Subject"]) == f"[SOC] Hồ sơ {d.id} \u2013 hạn {reply} ngày 27/02/2026"
    assert str(second[0]["Subject"]) == str(first[0]["Subject"])
    assert {str(m["Subject"]) for m in overdue} == {
        f"[SOC] QUÁ HẠN: hồ sơ {d.id} \u2013 {reply} hết hạn ngày 27/02/2026"
    }
    link = f"{BASE_URL}/dossiers/{d.id}"
    for message in [*first, *second, *overdue]:
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None
        assert html is not None
        assert f"Mở hồ sơ: {link}" in text.get_content()
        assert f'<a href="{link}">Mở hồ sơ</a>' in html.get_content()
    assert sorted(r for envelope in sink.envelopes for r in envelope) == sorted(
        to(first) + to(second) + to(overdue)
    )


def test_nothing_is_sent_when_nothing_is_due(world: World, sink: MailSink) -> None:
    submitted(world)
    world.session.commit()

    assert run_days(world, sink, date(2026, 2, 13), date(2026, 2, 23)) == {}  # Tết and the days before
    assert sink.messages == []
