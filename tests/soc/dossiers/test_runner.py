"""The running service sends dossier reminders: the notification runner checks deadlines."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from soc import settings as settings_mod
from soc.db.notify import OutboxMessage
from soc.notify.runner import jobs_for
from tests.soc.dossiers.conftest import World
from tests.soc.dossiers.test_deadlines import submitted


def test_the_notification_runner_enqueues_overdue_dossier_escalations_once(
    world: World, tmp_path: Path
) -> None:
    submitted(world)  # submitted in February 2026: long overdue by now
    world.session.commit()
    engine = world.session.get_bind()
    assert isinstance(engine, Engine)
    jobs = jobs_for(settings_mod.load(environ={}, data_dir=tmp_path, secret_key="k" * 40), engine)
    jobs.dossiers = world.service

    jobs.run_once()
    jobs.run_once()  # within the minute: not checked again; and escalations are marked sent anyway

    kinds = world.session.scalars(select(OutboxMessage.kind)).all()
    assert kinds.count("escalation") == 2  # admin and approver, once each
