"""Grouping, paging, escalation, acknowledgement, resolve, quiet hours and digest, on an injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from soc.db.notify import AlertGroup, OutboxMessage, Silence
from soc.db.session import session_scope
from soc.notify.email import Email, SmtpConfig
from soc.notify.outbox import OutboxWorker
from soc.notify.service import NotifyService, on_new_alerts
from soc.notify.sink import MailSink
from tests.soc.notify.world import CONFIG, T0, add_alerts, add_standard_actors, make_db, service


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_db(tmp_path)
    yield engine
    engine.dispose()


def tick(db: Engine, svc: NotifyService, at: datetime) -> list[tuple[str, str]]:
    """Run one tick; the (kind, recipient) of each message it queued."""
    with session_scope(db) as s:
        last = s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0
        svc.tick(s, at)
    with session_scope(db) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.id > last).order_by(OutboxMessage.id))
        return [(r.kind, r.recipient) for r in rows]


def alert(db: Engine, n: int = 1, **kw: object) -> list[int]:
    ids = add_alerts(db, n, **kw)  # type: ignore[arg-type]
    with session_scope(db) as s:
        return on_new_alerts(s, ids, kw.get("at", T0))  # type: ignore[arg-type]


def the_group(db: Engine) -> AlertGroup:
    with session_scope(db) as s:
        return s.scalars(select(AlertGroup)).one()


def test_it_groups_a_burst_by_rule_and_agency_after_a_short_wait(db: Engine) -> None:
    svc = service()
    alert(db, 3)
    alert(db, 1, agency="stttt")

    assert tick(db, svc, T0 + timedelta(seconds=10)) == []
    assert tick(db, svc, T0 + timedelta(seconds=31)) == [("firing", "an@example.vn")] * 2
    with session_scope(db) as s:
        subjects = sorted(s.scalars(select(OutboxMessage.subject)))
    assert subjects[0].startswith("[SOC][HIGH][FIRING:1] Dò mật khẩu SSH — stttt — ALR-")
    assert subjects[1].startswith("[SOC][HIGH][FIRING:3] Dò mật khẩu SSH — Sở Y tế — ALR-")


def test_it_counts_an_alert_once_however_often_it_is_passed(db: Engine) -> None:
    ids = add_alerts(db, 2)
    with session_scope(db) as s:
        on_new_alerts(s, ids, T0)
        on_new_alerts(s, [*ids, ids[0], "unknown"], T0)

    assert the_group(db).alert_count == 2


def test_it_does_not_group_suppressed_alerts(db: Engine) -> None:
    assert alert(db, 2, status="suppressed") == []


def test_it_pages_level_two_after_the_delay_when_nobody_acknowledges(db: Engine) -> None:
    svc = service()
    alert(db)
    tick(db, svc, T0 + timedelta(seconds=31))

    assert tick(db, svc, T0 + timedelta(minutes=10)) == []
    assert tick(db, svc, T0 + timedelta(minutes=10, seconds=31)) == [("escalation", "lead@example.vn")]


def test_it_stops_escalation_on_ack_and_resumes_after_the_ack_timeout(db: Engine) -> None:
    svc = service()
    alert(db)
    tick(db, svc, T0 + timedelta(seconds=31))
    with session_scope(db) as s:
        group = s.scalars(select(AlertGroup)).one()
        svc.acknowledge(s, group, "an", T0 + timedelta(minutes=2), via="test")

    assert tick(db, svc, T0 + timedelta(minutes=20)) == []
    assert tick(db, svc, T0 + timedelta(minutes=32, seconds=1)) == [("escalation", "lead@example.vn")]


def test_it_threads_every_follow_up_to_the_groups_root(db: Engine, sink: MailSink) -> None:
    svc = service()
    alert(db, 2)
    tick(db, svc, T0 + timedelta(seconds=31))
    alert(db, 1, at=T0 + timedelta(hours=3))
    tick(db, svc, T0 + timedelta(hours=4, minutes=1))  # repeat to an (+ escalation to lead before)
    worker = OutboxWorker(
        db,
        {"primary": Email(SmtpConfig("127.0.0.1", sink.port, "plain"))},
        clock=lambda: T0 + timedelta(hours=5),
    )
    worker.run_once()

    to_an = [m for m in sink.messages if m["To"] == "an@example.vn"]
    assert len(to_an) == 2
    first, repeat = to_an
    assert first["In-Reply-To"] is None
    assert repeat["In-Reply-To"] == first["Message-ID"]
    assert repeat["References"] == first["Message-ID"]
    assert repeat["Message-ID"] != first["Message-ID"]
    assert "[FIRING:2]" in first["Subject"]
    assert "[FIRING:3]" in repeat["Subject"]
    assert first["Subject"].split("] ", 1)[1] == repeat["Subject"].split("] ", 1)[1]
    text = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Failed password for root" in text
    assert "27/11/2026 10:00:00 +07:00 (03:00:00 UTC)" in text
    assert "http://soc.test/ack/" in text


def test_it_names_the_alert_group_in_every_sent_mail(db: Engine, sink: MailSink) -> None:
    svc = service()
    alert(db, 2)
    tick(db, svc, T0 + timedelta(seconds=31))
    worker = OutboxWorker(
        db,
        {"primary": Email(SmtpConfig("127.0.0.1", sink.port, "plain"))},
        clock=lambda: T0 + timedelta(minutes=1),
    )

    assert worker.run_once() == 1
    assert sink.messages[0]["X-SOC-Group"] == the_group(db).public_id


def test_it_sends_a_resolved_notice_when_the_group_goes_quiet(db: Engine) -> None:
    svc = service()
    alert(db)
    tick(db, svc, T0 + timedelta(seconds=31))
    tick(db, svc, T0 + timedelta(minutes=11))

    sent = tick(db, svc, T0 + timedelta(hours=2, minutes=1))

    assert sorted(sent) == [("resolved", "an@example.vn"), ("resolved", "lead@example.vn")]
    assert the_group(db).state == "resolved"
    assert alert(db, 1, at=T0 + timedelta(hours=3)) != []  # a new group opens


def test_it_holds_medium_alerts_until_quiet_hours_end(db: Engine) -> None:
    svc = service()
    night = datetime.fromisoformat("2026-11-27T23:00:00+07:00")
    alert(db, level="medium", at=night)

    assert tick(db, svc, night + timedelta(minutes=1)) == []
    assert tick(db, svc, datetime.fromisoformat("2026-11-28T06:30:01+07:00")) == [("firing", "an@example.vn")]


def test_it_lists_low_severity_in_the_daily_digest_instead_of_paging(db: Engine) -> None:
    svc = service()
    alert(db, 2, level="low")

    assert tick(db, svc, T0 + timedelta(minutes=1)) == [("digest", "lead@example.vn")]  # 10:00 > 08:00
    assert tick(db, svc, T0 + timedelta(hours=1)) == []


def test_it_does_not_page_for_a_silenced_rule(db: Engine) -> None:
    svc = service()
    with session_scope(db) as s:
        s.add(
            Silence(
                matchers={"rule_id": "ssh-brute"},
                author="lead",
                reason="pentest",
                starts_at=T0,
                expires_at=T0 + timedelta(hours=1),
            )
        )
    alert(db)

    assert tick(db, svc, T0 + timedelta(minutes=5)) == []
    assert tick(db, svc, T0 + timedelta(hours=1, minutes=1)) == [("firing", "an@example.vn")]


def silence_hits(db: Engine) -> int:
    with session_scope(db) as s:
        return s.scalars(select(Silence)).one().hits


def test_it_counts_each_silenced_alert_once_however_many_ticks_hold_it(db: Engine) -> None:
    svc = service()
    with session_scope(db) as s:
        s.add(
            Silence(
                matchers={"rule_id": "ssh-brute"}, author="lead", reason="pentest", starts_at=T0,
                expires_at=T0 + timedelta(hours=1),
            )
        )  # fmt: skip
    alert(db, 3)
    for second in range(31, 61, 2):
        assert tick(db, svc, T0 + timedelta(seconds=second)) == []
    assert silence_hits(db) == 3

    alert(db, 2, at=T0 + timedelta(minutes=5))
    tick(db, svc, T0 + timedelta(minutes=6))
    tick(db, svc, T0 + timedelta(minutes=7))

    assert silence_hits(db) == 5


def test_it_does_not_count_alerts_a_silence_does_not_match(db: Engine) -> None:
    svc = service()
    with session_scope(db) as s:
        s.add(
            Silence(
                matchers={"rule_id": "ssh-brute", "agency": "other"}, author="lead", reason="pentest",
                starts_at=T0, expires_at=T0 + timedelta(hours=1),
            )
        )  # fmt: skip
    alert(db, 2)

    assert tick(db, svc, T0 + timedelta(seconds=31)) == [("firing", "an@example.vn")]
    assert silence_hits(db) == 0


ROLE_PAGING = CONFIG | {
    "policies": {"default": {"repeat": 0, "levels": [{"delay": "0m", "targets": ["role:agency_officer"]}]}}
}
ANALYSTS = CONFIG | {
    "policies": {"default": {"repeat": 0, "levels": [{"delay": "0m", "targets": ["role:soc_analyst"]}]}}
}


def test_it_pages_an_agency_officer_only_about_their_own_agency(db: Engine) -> None:
    add_standard_actors(db)
    svc = service(ROLE_PAGING)
    alert(db, agency="syt")
    alert(db, agency="stp")

    sent = tick(db, svc, T0 + timedelta(seconds=31))

    assert sorted(sent) == [("firing", "officer_a@example.vn"), ("firing", "officer_b@example.vn")]
    with session_scope(db) as s:
        to = dict(
            s.execute(
                select(OutboxMessage.recipient, AlertGroup.agency).join(
                    AlertGroup, AlertGroup.id == OutboxMessage.group_id
                )
            ).all()
        )
    assert to == {"officer_a@example.vn": "syt", "officer_b@example.vn": "stp"}


def test_it_pages_no_agency_officer_about_an_alert_without_an_agency(db: Engine) -> None:
    add_standard_actors(db)
    svc = service(ROLE_PAGING)
    alert(db, agency=None)

    assert tick(db, svc, T0 + timedelta(seconds=31)) == []


def test_it_pages_city_wide_roles_about_every_agency_and_never_outsiders(db: Engine) -> None:
    add_standard_actors(db)
    svc = service(ANALYSTS)
    alert(db, agency="syt")
    alert(db, agency="stp")
    alert(db, agency=None, rule="cron-edit")

    sent = tick(db, svc, T0 + timedelta(seconds=31))

    assert sent == [("firing", "analyst@example.vn")] * 3


def test_it_does_not_page_a_city_wide_holder_of_an_agency_role(db: Engine) -> None:
    add_standard_actors(db)
    svc = service(
        CONFIG | {"policies": {"default": {"levels": [{"delay": "0m", "targets": ["role:appraiser"]}]}}}
    )
    alert(db, agency="syt")

    assert tick(db, svc, T0 + timedelta(seconds=31)) == []


def test_it_lists_only_their_own_agencys_groups_in_an_officers_digest(db: Engine) -> None:
    add_standard_actors(db)
    svc = service(CONFIG | {"digest": {"at": "08:00", "targets": ["role:agency_officer"]}})
    alert(db, level="low", agency="syt")
    alert(db, level="low", agency="stp", rule="cron-edit")

    with session_scope(db) as s:
        svc.tick(s, T0 + timedelta(minutes=1))
    with session_scope(db) as s:
        digests = {m.recipient: m.body_text for m in s.scalars(select(OutboxMessage))}

    assert sorted(digests) == ["officer_a@example.vn", "officer_b@example.vn"]
    assert " — syt — " in digests["officer_a@example.vn"]
    assert " — stp — " not in digests["officer_a@example.vn"]
    assert " — stp — " in digests["officer_b@example.vn"]
    assert " — syt — " not in digests["officer_b@example.vn"]


def test_a_silence_added_while_a_group_pages_holds_its_escalation_until_it_expires(db: Engine) -> None:
    svc = service()
    alert(db)
    assert tick(db, svc, T0 + timedelta(seconds=31)) == [("firing", "an@example.vn")]
    with session_scope(db) as s:  # maintenance starts after the first page
        s.add(
            Silence(
                matchers={"rule_id": "ssh-brute"}, author="lead", reason="patching",
                starts_at=T0 + timedelta(minutes=1), expires_at=T0 + timedelta(minutes=40),
            )
        )  # fmt: skip

    assert tick(db, svc, T0 + timedelta(minutes=11)) == []  # level 2 was due at 10:31
    assert tick(db, svc, T0 + timedelta(minutes=41)) == [("escalation", "lead@example.vn")]


def test_next_due_is_the_end_of_a_new_groups_wait_and_then_its_escalation(db: Engine) -> None:
    svc = service()
    with session_scope(db) as s:
        assert svc.next_due(s, T0) is None
    alert(db)
    with session_scope(db) as s:
        assert svc.next_due(s, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=30)
    tick(db, svc, T0 + timedelta(seconds=30))
    with session_scope(db) as s:  # level 2 in 10 min comes before the 4 h repeat
        assert svc.next_due(s, T0 + timedelta(seconds=31)) == T0 + timedelta(minutes=10, seconds=30)


def test_next_due_leaves_out_a_group_a_silence_holds(db: Engine) -> None:
    svc = service()
    with session_scope(db) as s:
        s.add(
            Silence(
                matchers={"rule_id": "ssh-brute"}, author="lead", reason="pentest",
                starts_at=T0, expires_at=T0 + timedelta(hours=1),
            )
        )  # fmt: skip
    alert(db)
    tick(db, svc, T0 + timedelta(seconds=31))
    with session_scope(db) as s:  # due already, held: the regular tick looks again, no busy loop
        assert svc.next_due(s, T0 + timedelta(seconds=32)) is None
