"""Incidents start the incident-reporting playbook: its deadlines in hours set the reporting clock,
and the incident records which playbook started it."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from soc.db.models import AuditEntry
from soc.db.session import session_scope
from soc.dossiers.library import BUNDLED, Library, load_library
from soc.triage import incidents as svc
from tests.soc.triage.test_incidents import T0, db, template, who

__all__ = ["db", "template"]  # the fixtures, shared with test_incidents


def library_with_hours(tmp_path: Path, initial: int, full: int, *, title: str = "") -> Library:
    folder = tmp_path / "playbooks"
    shutil.copytree(BUNDLED, folder)
    path = folder / "incident-reporting.yml"
    text = path.read_text(encoding="utf-8")
    assert text.count("    hours: 24\n") == 1
    assert text.count("    hours: 72\n") == 1
    text = text.replace("    hours: 24\n", f"    hours: {initial}\n").replace(
        "    hours: 72\n", f"    hours: {full}\n"
    )
    if title:
        text = text.replace("en: Serious incident reporting", f"en: {title}")
    path.write_text(text, encoding="utf-8")
    return load_library(folder)


def deadlines(db: Engine, iid: int) -> list[tuple[str, timedelta]]:
    with session_scope(db) as s:
        incident = svc.get(s, who(s, "analyst"), iid)
        return [(x.kind, x.due_at - T0) for x in svc.timers(incident, T0)]


def test_the_shipped_playbook_gives_24_hours_and_72_for_serious_incidents(db: Engine) -> None:
    playbook = svc.reporting_playbook()
    assert (playbook.id, playbook.kind) == ("incident-reporting", "incident")
    assert svc.report_deadlines(playbook) == {
        "initial_notice": timedelta(hours=24),
        "full_report": timedelta(hours=72),
    }
    with session_scope(db) as s:
        plain = svc.escalate(s, who(s, "analyst"), ["so-a-1"], now=T0, title="t", severity="high").id
        serious = svc.escalate(s, who(s, "analyst"), ["so-a-2"], now=T0, title="t", severity="critical").id
    assert deadlines(db, plain) == [("initial_notice", timedelta(hours=24))]
    assert deadlines(db, serious) == [
        ("initial_notice", timedelta(hours=24)),
        ("full_report", timedelta(hours=72)),
    ]


def test_changing_the_playbooks_hours_changes_the_deadlines(db: Engine, tmp_path: Path) -> None:
    library = library_with_hours(tmp_path, 12, 48)
    with session_scope(db) as s:
        me = who(s, "analyst")
        plain = svc.escalate(s, me, ["so-a-1"], now=T0, title="t", severity="low", library=library).id
        serious = svc.escalate(
            s, me, ["so-a-2"], now=T0, title="t", severity="medium", serious=True, library=library
        ).id
    assert deadlines(db, plain) == [("initial_notice", timedelta(hours=12))]
    assert deadlines(db, serious) == [
        ("initial_notice", timedelta(hours=12)),
        ("full_report", timedelta(hours=48)),
    ]


def test_an_incident_turning_serious_gets_the_full_report_limit_of_its_own_playbook(
    db: Engine, tmp_path: Path
) -> None:
    library = library_with_hours(tmp_path, 6, 30)
    with session_scope(db) as s:
        me = who(s, "analyst")
        iid = svc.escalate(s, me, ["so-a-1"], now=T0, title="t", severity="low", library=library).id
        incident = svc.update(s, me, iid, now=T0 + timedelta(hours=1), severity="critical", library=library)
        assert incident.full_report_due == T0 + timedelta(hours=30)


def test_the_incident_records_which_playbook_started_it(db: Engine, tmp_path: Path) -> None:
    library = library_with_hours(tmp_path, 24, 72, title="City incident reporting")
    with session_scope(db) as s:
        me = who(s, "analyst")
        iid = svc.escalate(s, me, ["so-a-1"], now=T0, title="t", severity="high", library=library).id
        svc.escalate(s, me, ["so-a-2"], now=T0, incident_id=iid)  # attaching starts nothing new
    with session_scope(db) as s:
        incident = svc.get(s, who(s, "analyst"), iid)
        assert svc.started_by(s, incident) == "incident-reporting"
        assert svc.playbook_of(s, incident, library).title.en == "City incident reporting"
        details = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.target_type == "incident").order_by(AuditEntry.id)
        ).all()
    assert details[0]["playbook"] == "incident-reporting"
    assert details[0]["playbook_title"] == {
        "en": "City incident reporting",
        "vi": "Báo cáo sự cố nghiêm trọng",
    }
    assert "playbook" not in details[1]
