"""The outbox against real SMTP sinks: retries, dead letters, two workers, heartbeat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from soc.db import migrate
from soc.db.detection import Alert
from soc.db.notify import DeadLetter, DeliveryAttempt, OutboxMessage
from soc.db.session import make_engine, session_scope
from soc.notify.base import Outgoing
from soc.notify.email import Email, SmtpConfig
from soc.notify.outbox import DEAD_LETTER_RULE, OutboxWorker, enqueue, health
from soc.notify.sink import MailSink, free_port

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate.upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def email_to(port: int) -> Email:
    return Email(SmtpConfig(host="127.0.0.1", port=port, security="plain", timeout_seconds=5))


def queue(db: Engine, n: int, clock: Clock) -> None:
    with session_scope(db) as s:
        for i in range(n):
            out = Outgoing(f"u{i}@example.vn", f"Cảnh báo {i}", f"<m{i}@soc>", "văn bản", "<p>html</p>")
            enqueue(s, out, kind="firing", now=clock())


def worker(db: Engine, port: int, clock: Clock, **kw: object) -> OutboxWorker:
    return OutboxWorker(db, {"primary": email_to(port)}, clock=clock, **kw)  # type: ignore[arg-type]


def statuses(db: Engine) -> dict[str, int]:
    with session_scope(db) as s:
        return dict(
            s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        )


def test_it_delivers_a_queued_message_once_and_records_the_attempt(db: Engine, sink: MailSink) -> None:
    clock = Clock()
    queue(db, 1, clock)
    w = worker(db, sink.port, clock)

    assert w.run_once() == 1
    assert w.run_once() == 0
    assert len(sink.messages) == 1
    assert statuses(db) == {"sent": 1}
    assert w.metrics.sent.labels("primary")._value.get() == 1
    with session_scope(db) as s:
        assert [a.outcome for a in s.scalars(select(DeliveryAttempt))] == ["sent"]


def test_it_retries_with_backoff_while_smtp_is_down_and_delivers_each_once_after(
    db: Engine, tmp_path: Path
) -> None:
    clock, port = Clock(), free_port()
    queue(db, 5, clock)
    w = worker(db, port, clock)

    assert w.run_once() == 0
    clock.at += timedelta(seconds=10)
    assert w.run_once() == 0  # backoff: not due again yet
    with MailSink(port=port) as server:
        clock.at += timedelta(seconds=25)
        assert w.run_once() == 5
        assert w.run_once() == 0

        assert sorted(str(m["Message-ID"]) for m in server.messages) == [f"<m{i}@soc>" for i in range(5)]
    with session_scope(db) as s:
        outcomes = [a.outcome for a in s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))]
    assert outcomes == ["temporary"] * 5 + ["sent"] * 5


def test_it_dead_letters_a_permanent_5xx_and_alerts_the_second_route(db: Engine, sink: MailSink) -> None:
    clock = Clock()
    queue(db, 1, clock)
    sink.fail_with = "550 5.1.1 no such mailbox"
    with MailSink() as second:
        w = OutboxWorker(
            db, {"primary": email_to(sink.port), "secondary": email_to(second.port)},
            clock=clock, dead_letter_to="soc-lead@example.vn",
        )  # fmt: skip
        w.run_once()
        w.run_once()

        [notice] = second.messages
    assert "[DEAD LETTER]" in str(notice["Subject"])
    assert statuses(db) == {"dead": 1, "sent": 1}
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 1
        alert = s.scalars(select(Alert)).one()
        assert alert.rule_id == DEAD_LETTER_RULE


def test_it_dead_letters_after_the_last_allowed_attempt(db: Engine) -> None:
    clock = Clock()
    queue(db, 1, clock)
    w = worker(db, free_port(), clock, max_attempts=2)

    w.run_once()
    clock.at += timedelta(hours=1)
    w.run_once()

    assert statuses(db) == {"dead": 1}


def test_it_reclaims_a_message_whose_worker_died_after_the_lease(db: Engine, sink: MailSink) -> None:
    clock = Clock()
    queue(db, 1, clock)
    dead_worker = worker(db, sink.port, clock, worker_id="crashed")
    assert dead_worker.claim() != []

    w = worker(db, sink.port, clock)
    assert w.run_once() == 0
    clock.at += timedelta(minutes=6)
    assert w.run_once() == 1


def test_it_never_sends_twice_with_two_workers_on_one_database(
    engine: Engine, db_url: str, sink: MailSink
) -> None:
    clock = Clock()
    queue(engine, 30, clock)
    engines = [make_engine(db_url), make_engine(db_url)]

    def drain(eng: Engine, name: str) -> None:
        w = OutboxWorker(eng, {"primary": email_to(sink.port)}, clock=clock, worker_id=name, batch=5)
        while statuses(eng).get("pending"):
            w.run_once()

    threads = [threading.Thread(target=drain, args=(e, f"w{i}")) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()

    ids = [str(m["Message-ID"]) for m in sink.messages]
    assert len(ids) == 30
    assert len(set(ids)) == 30


def test_it_reports_a_heartbeat_and_the_lag(db: Engine, sink: MailSink) -> None:
    clock = Clock()
    with session_scope(db) as s:
        assert health(s, clock())["status"] == "stale"
    queue(db, 2, clock)
    clock.at += timedelta(seconds=40)
    with session_scope(db) as s:
        assert health(s, clock())["lag_seconds"] == 40

    worker(db, sink.port, clock).run_once()

    with session_scope(db) as s:
        report = health(s, clock())
    assert report["status"] == "ok"
    assert report["lag_seconds"] == 0
    assert report["counts"] == {"sent": 2}
