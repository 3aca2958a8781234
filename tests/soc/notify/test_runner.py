"""The notification runner as `soc serve` runs it: its own thread, woken by detection, and an
on-call file edited while it runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.notify.email import Email, SmtpConfig
from soc.notify.outbox import OutboxWorker
from soc.notify.runner import NotifyJobs
from soc.notify.service import NotifyService, on_new_alerts
from soc.notify.sink import MailSink
from tests.soc.notify.world import CONFIG, SECRET, add_alerts, make_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_db(tmp_path)
    yield engine
    engine.dispose()


def jobs(db: Engine, sink: MailSink, config: Path, *, interval: float) -> NotifyJobs:
    from soc.notify import oncall

    svc = NotifyService(
        oncall.load(config), secret_key=SECRET, base_url="http://soc.test", domain="soc.example.vn",
        config_path=config,
    )  # fmt: skip
    email = Email(SmtpConfig(host="127.0.0.1", port=sink.port, security="plain", timeout_seconds=5))
    worker = OutboxWorker(db, {"primary": email, "secondary": email})
    return NotifyJobs(db, svc, worker, interval_seconds=interval)


def write(path: Path, **group: str) -> None:
    path.write_text(yaml.safe_dump(CONFIG | {"group": CONFIG["group"] | group}), encoding="utf-8")


def test_it_pages_when_the_wait_ends_not_a_whole_tick_later(
    db: Engine, sink: MailSink, tmp_path: Path
) -> None:
    config = tmp_path / "oncall.yml"
    write(config, wait="1s")
    runner = jobs(db, sink, config, interval=30).start()  # a tick far longer than the wait
    try:
        time.sleep(0.3)  # the runner is asleep in its first wait
        now = utcnow()
        ids = add_alerts(db, 1, at=now)
        with session_scope(db) as s:
            on_new_alerts(s, ids, now)
        runner.wake()  # what the detector does after committing alerts
        deadline = time.monotonic() + 10
        while not sink.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        took = (utcnow() - now).total_seconds()
    finally:
        runner.stop()
    assert len(sink.messages) == 1  # one FIRING mail (primary schedule: an)
    assert 1 <= took < 5, took


def test_an_edited_oncall_file_is_taken_up_and_a_broken_one_is_not(
    db: Engine, sink: MailSink, tmp_path: Path
) -> None:
    config = tmp_path / "oncall.yml"
    write(config, wait="30s")
    runner = jobs(db, sink, config, interval=30)
    svc = runner.service
    assert svc.config.group_wait == timedelta(seconds=30)
    assert not svc.reload_if_changed()

    write(config, wait="2s")
    assert svc.reload_if_changed()
    assert svc.config.group_wait == timedelta(seconds=2)

    config.write_text("group: {wait: soon}\n", encoding="utf-8")
    assert not svc.reload_if_changed()  # logged; the running configuration stays
    assert svc.config.group_wait == timedelta(seconds=2)
