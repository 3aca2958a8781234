"""Changing on-call at run time: overrides, silences and schedules, each change audited.

For the web team to expose (the API and UI hold no logic): every function takes the caller's
session and the acting username, checks its input, writes in the caller's transaction and appends
one audit entry. Refusals raise SocError with a sentence fit to show the user.

Overrides and silences live in the app database and take effect on the next notification tick.
Schedules live in the on-call YAML file: `save_schedule` / `delete_schedule` rewrite that file
(atomically, only when the whole file still validates; YAML comments are not kept); running
services take the change up on their next notification pass (`NotifyService.reload_if_changed`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.models import Agency, User
from soc.db.notify import SILENCE_KINDS, OncallOverride, Silence
from soc.errors import ConfigError, SocError
from soc.notify import oncall_file
from soc.notify.oncall import OncallConfig

MATCHERS = ("rule_id", "agency", "level")
"""Fields a silence may match on (what an alert group carries)."""
MAX_SILENCE = timedelta(days=30)
"""Silences must expire; a longer mute is a suppression in triage, with its own review."""


def create_override(
    session: Session, actor: str, config: OncallConfig, *, schedule: str, username: str,
    start_at: datetime, end_at: datetime, reason: str,
) -> OncallOverride:  # fmt: skip
    """`username` covers `schedule` from `start_at` to `end_at`, whatever the rotation says."""
    if schedule not in config.schedules:
        raise SocError(f"unknown schedule '{schedule}'")
    _span(start_at, end_at)
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise SocError(f"no active user '{username}'")
    override = OncallOverride(
        schedule=schedule, username=username, start_at=start_at, end_at=end_at, author=actor,
        reason=_reason(reason),
    )  # fmt: skip
    session.add(override)
    session.flush()
    audit.record(
        session, actor=actor, action="oncall_override.create", target_type="oncall_override",
        target_id=override.id,
        detail={"schedule": schedule, "username": username, "start_at": start_at, "end_at": end_at,
                "reason": override.reason},
    )  # fmt: skip
    return override


def expire_override(session: Session, actor: str, override_id: int, now: datetime) -> OncallOverride:
    """End an override now (one not started yet never takes effect)."""
    override = session.get(OncallOverride, override_id)
    if override is None:
        raise SocError(f"no on-call override {override_id}")
    if override.end_at <= now:
        raise SocError(f"on-call override {override_id} has already ended")
    override.end_at = max(now, override.start_at)
    session.flush()
    audit.record(
        session, actor=actor, action="oncall_override.expire", target_type="oncall_override",
        target_id=override.id, at=now, detail={"schedule": override.schedule, "username": override.username},
    )  # fmt: skip
    return override


def create_silence(
    session: Session, actor: str, *, matchers: Mapping[str, str], reason: str, expires_at: datetime,
    now: datetime, starts_at: datetime | None = None, kind: str = "silence",
) -> Silence:  # fmt: skip
    """Mute notifications for alert groups matching every matcher until `expires_at` (mandatory)."""
    if kind not in SILENCE_KINDS:
        raise SocError(f"unknown silence kind '{kind}' (expected one of {', '.join(SILENCE_KINDS)})")
    if not matchers:
        raise SocError("a silence needs at least one matcher (rule_id, agency or level)")
    unknown = sorted(set(matchers) - set(MATCHERS))
    if unknown:
        raise SocError(f"unknown matcher '{unknown[0]}' (expected one of {', '.join(MATCHERS)})")
    if any(not str(v).strip() for v in matchers.values()):
        raise SocError("a silence matcher needs a value")
    if "level" in matchers and matchers["level"] not in oncall_file.LEVELS:
        raise SocError(f"unknown level '{matchers['level']}'")
    starts_at = starts_at or now
    _span(starts_at, expires_at)
    if expires_at <= now:
        raise SocError("a silence must expire in the future")
    if expires_at - starts_at > MAX_SILENCE:
        raise SocError(f"a silence may last at most {MAX_SILENCE.days} days")
    agency_id = _agency_id(session, matchers.get("agency"))
    silence = Silence(
        kind=kind, matchers={k: str(v) for k, v in matchers.items()}, author=actor, reason=_reason(reason),
        starts_at=starts_at, expires_at=expires_at, hits=0, created_at=now,
    )  # fmt: skip
    session.add(silence)
    session.flush()
    audit.record(
        session, actor=actor, action="silence.create", target_type="silence", target_id=silence.id,
        agency_id=agency_id, at=now,
        detail={"kind": kind, "matchers": silence.matchers, "starts_at": starts_at, "expires_at": expires_at,
                "reason": silence.reason},
    )  # fmt: skip
    return silence


def expire_silence(session: Session, actor: str, silence_id: int, now: datetime) -> Silence:
    """Lift a silence now; groups it held page on the next tick."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise SocError(f"no silence {silence_id}")
    if silence.expires_at <= now:
        raise SocError(f"silence {silence_id} has already expired")
    silence.expires_at = max(now, silence.starts_at)
    session.flush()
    audit.record(
        session, actor=actor, action="silence.expire", target_type="silence", target_id=silence.id,
        agency_id=_agency_id(session, silence.matchers.get("agency")), at=now,
        detail={"matchers": silence.matchers, "hits": silence.hits},
    )  # fmt: skip
    return silence


def save_schedule(
    session: Session, actor: str, path: Path, name: str, schedule: Mapping[str, Any]
) -> OncallConfig:
    """Add or replace schedule `name` in the on-call file; returns the new configuration.

    `schedule` is what the file holds under `schedules.NAME` (`{"layers": [...]}`); the whole file
    is validated before it is written, so a refusal (ConfigError, every problem) changes nothing.
    """
    data = _read(path)
    schedules = data.setdefault("schedules", {})
    if not isinstance(schedules, dict):
        raise ConfigError([f"{path}: schedules: expected a mapping"])
    existed = name in schedules
    schedules[name] = dict(schedule)
    config = _write(path, data)
    audit.record(
        session, actor=actor, action="oncall_schedule.update" if existed else "oncall_schedule.create",
        target_type="oncall_schedule", target_id=name, detail={"file": str(path), "schedule": schedule},
    )  # fmt: skip
    return config


def delete_schedule(session: Session, actor: str, path: Path, name: str) -> OncallConfig:
    """Remove schedule `name`; refused while a policy or the digest still targets it."""
    data = _read(path)
    schedules = data.get("schedules")
    if not isinstance(schedules, dict) or name not in schedules:
        raise SocError(f"unknown schedule '{name}'")
    del schedules[name]
    config = _write(path, data)
    audit.record(
        session, actor=actor, action="oncall_schedule.delete", target_type="oncall_schedule",
        target_id=name, detail={"file": str(path)},
    )  # fmt: skip
    return config


def _read(path: Path) -> dict[str, Any]:
    """The file as plain data (scalars as their text, so `22:00` stays a time when written back)."""
    if not path.exists():
        return {}
    oncall_file.load(path)  # a broken file is reported, never overwritten
    node = yaml.compose(path.read_text(encoding="utf-8"))
    data = oncall_file.plain(node) if node is not None else None
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, Any]) -> OncallConfig:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False) as tmp:
        tmp.write(text)
    staged = Path(tmp.name)
    try:
        config = oncall_file.load(staged)
    except ConfigError as exc:
        staged.unlink()
        raise ConfigError([p.replace(str(staged), str(path), 1) for p in exc.problems]) from exc
    os.replace(staged, path)
    return config


def _span(start_at: datetime, end_at: datetime) -> None:
    if start_at.tzinfo is None or end_at.tzinfo is None:
        raise SocError("times must carry a time zone")
    if end_at <= start_at:
        raise SocError("the end must come after the start")


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise SocError("a reason is required")
    return reason


def _agency_id(session: Session, code: str | None) -> int | None:
    return session.scalar(select(Agency.id).where(Agency.code == code)) if code else None
