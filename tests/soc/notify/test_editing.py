"""Editing on-call at run time (overrides, silences, schedules): checked, written, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select

from soc.db.models import AuditEntry
from soc.db.notify import OncallOverride, Silence
from soc.db.session import session_scope
from soc.errors import ConfigError, SocError
from soc.notify import editing, oncall
from tests.soc.notify.world import CONFIG, T0, make_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_db(tmp_path)
    yield engine
    engine.dispose()


def last_audit(db: Engine) -> AuditEntry:
    with session_scope(db) as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        s.expunge(entry)
        return entry


def test_it_creates_an_override_that_wins_and_audits_it(db: Engine) -> None:
    config = oncall.parse(CONFIG)
    with session_scope(db) as s:
        editing.create_override(
            s, "lead", config, schedule="primary", username="binh", start_at=T0,
            end_at=T0 + timedelta(hours=8), reason="an is sick",
        )  # fmt: skip
        rows = s.scalars(select(OncallOverride)).all()
        overrides = tuple(oncall.Override(o.schedule, o.username, o.start_at, o.end_at) for o in rows)

    assert config.schedules["primary"].who(T0 + timedelta(hours=1), overrides) == "binh"
    entry = last_audit(db)
    assert (entry.actor, entry.action, entry.detail["username"]) == ("lead", "oncall_override.create", "binh")


def test_it_refuses_an_override_for_an_unknown_schedule_or_user_or_backwards_span(db: Engine) -> None:
    config = oncall.parse(CONFIG)
    cases = [
        {"schedule": "nope", "username": "binh", "start_at": T0, "end_at": T0 + timedelta(hours=1)},
        {"schedule": "primary", "username": "ghost", "start_at": T0, "end_at": T0 + timedelta(hours=1)},
        {"schedule": "primary", "username": "binh", "start_at": T0, "end_at": T0 - timedelta(hours=1)},
    ]
    for case in cases:
        with session_scope(db) as s, pytest.raises(SocError):
            editing.create_override(s, "lead", config, reason="cover", **case)  # type: ignore[arg-type]
    with session_scope(db) as s:
        assert s.scalars(select(OncallOverride)).all() == []


def test_it_expires_an_override_now(db: Engine) -> None:
    config = oncall.parse(CONFIG)
    with session_scope(db) as s:
        o = editing.create_override(
            s, "lead", config, schedule="primary", username="binh", start_at=T0,
            end_at=T0 + timedelta(hours=8), reason="cover",
        )  # fmt: skip
        editing.expire_override(s, "lead", o.id, T0 + timedelta(hours=1))
        assert o.end_at == T0 + timedelta(hours=1)
        with pytest.raises(SocError, match="already ended"):
            editing.expire_override(s, "lead", o.id, T0 + timedelta(hours=2))

    assert last_audit(db).action == "oncall_override.expire"


def test_it_creates_a_silence_with_a_mandatory_expiry_and_audits_it(db: Engine) -> None:
    with session_scope(db) as s:
        silence = editing.create_silence(
            s, "lead", matchers={"rule_id": "ssh-brute", "agency": "syt"}, reason="pentest",
            expires_at=T0 + timedelta(hours=2), now=T0,
        )  # fmt: skip
        assert (silence.author, silence.starts_at, silence.hits) == ("lead", T0, 0)

    entry = last_audit(db)
    assert (entry.action, entry.detail["matchers"]) == (
        "silence.create",
        {"rule_id": "ssh-brute", "agency": "syt"},
    )
    assert entry.agency_id is not None


@pytest.mark.parametrize(
    ("matchers", "expires_in", "reason", "message"),
    [
        ({}, timedelta(hours=1), "x", "at least one matcher"),
        ({"host": "web-1"}, timedelta(hours=1), "x", "unknown matcher 'host'"),
        ({"level": "hihg"}, timedelta(hours=1), "x", "unknown level"),
        ({"rule_id": "r"}, -timedelta(hours=1), "x", "end must come after"),
        ({"rule_id": "r"}, timedelta(days=31), "x", "at most 30 days"),
        ({"rule_id": "r"}, timedelta(hours=1), "  ", "reason is required"),
    ],
)
def test_it_refuses_a_malformed_silence(
    db: Engine, matchers: dict[str, str], expires_in: timedelta, reason: str, message: str
) -> None:
    with session_scope(db) as s, pytest.raises(SocError, match=message):
        editing.create_silence(
            s, "lead", matchers=matchers, reason=reason, expires_at=T0 + expires_in, now=T0
        )


def test_it_lifts_a_silence_now(db: Engine) -> None:
    with session_scope(db) as s:
        silence = editing.create_silence(
            s, "lead", matchers={"rule_id": "r"}, reason="pentest", expires_at=T0 + timedelta(hours=2), now=T0
        )
        editing.expire_silence(s, "lead", silence.id, T0 + timedelta(minutes=5))
        active = s.scalars(select(Silence).where(Silence.expires_at > T0 + timedelta(minutes=5))).all()

    assert active == []
    assert last_audit(db).action == "silence.expire"


def test_it_saves_a_schedule_into_the_file_keeping_it_valid(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    rest = {k: v for k, v in CONFIG.items() if k != "quiet_hours"}
    path.write_text(yaml.safe_dump(rest) + "quiet_hours: {start: 22:00, end: '06:30', levels: [medium]}\n")
    night = {"layers": [{"start": "2026-11-23 18:00", "rotation": "1d", "participants": ["binh"]}]}

    with session_scope(db) as s:
        config = editing.save_schedule(s, "lead", path, "night", night)

    assert sorted(config.schedules) == ["night", "primary"]
    reread = oncall.load(path)
    assert sorted(reread.schedules) == ["night", "primary"]
    assert reread.quiet_hours is not None
    assert str(reread.quiet_hours.start) == "22:00:00"
    assert last_audit(db).action == "oncall_schedule.create"


def test_it_refuses_a_schedule_that_would_break_the_file_and_changes_nothing(
    db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text(yaml.safe_dump(CONFIG))
    before = path.read_text()

    with session_scope(db) as s, pytest.raises(ConfigError) as caught:
        editing.save_schedule(s, "lead", path, "night", {"layers": [{"start": "soon", "participants": []}]})

    assert path.read_text() == before
    assert all(p.startswith(f"{path}:") for p in caught.value.problems)
    assert list(tmp_path.glob("tmp*")) == []


def test_it_refuses_to_delete_a_schedule_a_policy_still_pages(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "oncall.yml"
    path.write_text(yaml.safe_dump(CONFIG))

    with session_scope(db) as s, pytest.raises(ConfigError) as caught:
        editing.delete_schedule(s, "lead", path, "primary")

    assert "unknown schedule 'primary'" in "\n".join(caught.value.problems)
    assert "primary" in oncall.load(path).schedules
