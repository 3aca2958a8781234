"""On-call for the web app: who is on call now per schedule, the next hand-offs, coverage gaps,
what each escalation policy pages, overrides, and silences (list, create with a mandatory expiry,
expire) — each change audited.

Schedules and policies come from the on-call YAML exactly as the notifier reads it
(`soc.notify.service.for_settings`); overrides and silences are changed through the notifier's
editing service (`soc.notify.editing`, which validates and audits), so a silence created here
mutes the very next notification. Agency scoping is added here: agency-scoped roles see and touch
only silences of their agencies, and only city-wide roles change overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db.models import Agency
from soc.db.notify import OncallOverride, Silence
from soc.errors import ConfigError, SocError
from soc.notify import editing, oncall
from soc.settings import Settings
from soc.triage.principal import Forbidden, Invalid, NotFound, Principal

HANDOFF_HORIZON = timedelta(days=7)
GAP_HORIZON = timedelta(days=14)
STEP = timedelta(minutes=15)
MATCHER_KEYS = editing.MATCHERS
MAX_REASON = 500


@dataclass
class Handoff:
    at: datetime
    person: str | None
    """None: nobody from then on (a gap starts)."""


@dataclass
class ScheduleNow:
    name: str
    person: str | None
    overridden: bool
    handoffs: list[Handoff]
    gaps: list[tuple[datetime, datetime]]


@dataclass
class PolicyLevel:
    delay_seconds: int
    targets: list[str]
    now: list[str]
    """Who each target resolves to right now (people, or `role:x`)."""


@dataclass
class PolicyNow:
    name: str
    repeat: int
    ack_timeout_seconds: int
    levels: list[PolicyLevel]


@dataclass
class OncallNow:
    at: datetime
    zone: str
    schedules: list[ScheduleNow] = field(default_factory=list)
    policies: list[PolicyNow] = field(default_factory=list)
    overrides: list[OncallOverride] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Problems in the on-call file (then only the built-in default policy is shown)."""


def config_for(settings: Settings) -> tuple[oncall.OncallConfig, list[str]]:
    """The on-call configuration the notifier uses, and the file's problems if it is broken."""
    from soc.notify.service import for_settings

    try:
        return for_settings(settings).config, []
    except ConfigError as exc:
        return oncall.OncallConfig(), list(exc.problems)


def _overrides(session: Session, since: datetime) -> list[OncallOverride]:
    query = select(OncallOverride).where(OncallOverride.end_at > since).order_by(OncallOverride.start_at)
    return list(session.scalars(query))


def handoffs(
    schedule: oncall.Schedule, start: datetime, end: datetime, overrides: tuple[oncall.Override, ...]
) -> list[Handoff]:
    """When the person on call changes between start and end, to the minute."""
    out: list[Handoff] = []
    at, who = start, schedule.who(start, overrides)
    while at < end:
        nxt = min(at + STEP, end)
        person = schedule.who(nxt, overrides)
        if person != who:
            lo, hi = at, nxt  # who(lo) is the old person, who(hi) the new one
            while hi - lo > timedelta(seconds=30):
                mid = lo + (hi - lo) / 2
                if schedule.who(mid, overrides) == who:
                    lo = mid
                else:
                    hi = mid
            # Hand-offs fall on whole minutes; hi is at most 30 s past the change.
            out.append(Handoff(hi.replace(second=0, microsecond=0), person))
            who = person
        at = nxt
    return out


def coverage_gaps(
    schedule: oncall.Schedule, at: datetime, overrides: tuple[oncall.Override, ...]
) -> list[tuple[datetime, datetime]]:
    """Gaps in the next GAP_HORIZON, checked on quarter hours (where hand-offs usually fall), the
    first one starting no earlier than `at`."""
    start = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    spans = schedule.gaps(start, at + GAP_HORIZON, overrides, STEP)
    return [(max(a, at), b) for a, b in spans]


def now(
    session: Session, principal: Principal, settings: Settings, at: datetime, *, handoff_limit: int = 6
) -> OncallNow:
    principal.require("oncall.read")
    config, problems = config_for(settings)
    rows = _overrides(session, at)
    overrides = tuple(oncall.Override(o.schedule, o.username, o.start_at, o.end_at) for o in rows)
    out = OncallNow(at=at, zone=str(config.zone), overrides=rows, problems=problems)
    for name, schedule in sorted(config.schedules.items()):
        person = schedule.who(at, overrides)
        overridden = any(o.schedule == name and o.start_at <= at < o.end_at for o in overrides)
        out.schedules.append(
            ScheduleNow(
                name, person, overridden,
                handoffs(schedule, at, at + HANDOFF_HORIZON, overrides)[:handoff_limit],
                coverage_gaps(schedule, at, overrides),
            )
        )  # fmt: skip
    on_now = {s.name: s.person for s in out.schedules}
    for name, policy in sorted(config.policies.items()):
        levels = []
        for level in policy.levels:
            resolved = []
            for target in level.targets:
                kind, _, ref = target.partition(":")
                if kind == "schedule":
                    resolved.append(on_now.get(ref) or "—")
                elif kind == "user":
                    resolved.append(ref)
                else:
                    resolved.append(target)
            levels.append(PolicyLevel(int(level.delay.total_seconds()), list(level.targets), resolved))
        out.policies.append(PolicyNow(name, policy.repeat, int(policy.ack_timeout.total_seconds()), levels))
    return out


# -- silences ----------------------------------------------------------------------------------


def _visible_silence(principal: Principal, silence: Silence) -> bool:
    """City-wide roles see every silence; agency-scoped ones only those of their agencies."""
    return principal.city_wide or principal.sees(silence.matchers.get("agency"))


def silences(session: Session, principal: Principal, at: datetime, *, include_expired: bool = True,
             limit: int = 100) -> list[Silence]:  # fmt: skip
    """Active and upcoming silences first (soonest to end first), then the latest expired ones."""
    principal.require("oncall.read")
    active = list(
        session.scalars(
            select(Silence).where(Silence.expires_at > at).order_by(Silence.expires_at, Silence.id)
        )
    )
    expired: list[Silence] = []
    if include_expired:
        expired = list(
            session.scalars(
                select(Silence)
                .where(Silence.expires_at <= at)
                .order_by(Silence.expires_at.desc())
                .limit(limit)
            )
        )
    return [s for s in active + expired if _visible_silence(principal, s)]


def _agency_id(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    return session.scalar(select(Agency.id).where(Agency.code == code))


def _refusal(exc: SocError) -> Invalid:
    return exc if isinstance(exc, Invalid) else Invalid(str(exc))


def create_silence(
    session: Session,
    principal: Principal,
    *,
    matchers: dict[str, Any],
    reason: str,
    expires_at: datetime | None,
    at: datetime,
    starts_at: datetime | None = None,
    kind: str = "silence",
) -> Silence:
    """A silence (or maintenance window) over alerts matching every matcher, until it expires.

    Checks who may silence what here (agency-scoped roles only their agencies); the notifier's
    own `soc.notify.editing.create_silence` validates, writes and audits."""
    principal.require("oncall.manage")
    clean = {k: str(v).strip() for k, v in matchers.items() if v is not None and str(v).strip()}
    if "agency" in clean:
        if _agency_id(session, clean["agency"]) is None or not principal.sees(clean["agency"]):
            raise Invalid(f"unknown agency {clean['agency']!r}")
    elif not principal.city_wide:
        raise Invalid("choose one of your agencies: only city-wide roles may silence every agency")
    if len(reason) > MAX_REASON:
        raise Invalid(f"the reason is longer than {MAX_REASON} characters")
    if expires_at is None:
        raise Invalid("an expiry is needed: a silence must end")
    try:
        return editing.create_silence(
            session, principal.username, matchers=clean, reason=reason, expires_at=expires_at, now=at,
            starts_at=starts_at, kind=kind,
        )  # fmt: skip
    except SocError as exc:
        raise _refusal(exc) from None


def expire_silence(session: Session, principal: Principal, silence_id: int, at: datetime) -> Silence:
    principal.require("oncall.manage")
    silence = session.get(Silence, silence_id)
    if silence is None or not _visible_silence(principal, silence):
        raise NotFound(f"no silence {silence_id}")
    try:
        return editing.expire_silence(session, principal.username, silence_id, at)
    except SocError as exc:
        raise _refusal(exc) from None


# -- overrides ---------------------------------------------------------------------------------


def create_override(
    session: Session,
    principal: Principal,
    settings: Settings,
    *,
    schedule: str,
    username: str,
    start_at: datetime,
    end_at: datetime,
    reason: str,
) -> OncallOverride:
    """Someone covers a schedule for a span (schedules are city-wide, so city-wide roles only)."""
    principal.require("oncall.manage")
    if not principal.city_wide:
        raise Forbidden(f"{principal.username} may not change city-wide schedules")
    if len(reason) > MAX_REASON:
        raise Invalid(f"the reason is longer than {MAX_REASON} characters")
    config, problems = config_for(settings)
    if problems:
        raise Invalid("the on-call file has problems; fix it first")
    try:
        return editing.create_override(
            session, principal.username, config, schedule=schedule, username=username, start_at=start_at,
            end_at=end_at, reason=reason,
        )  # fmt: skip
    except SocError as exc:
        raise _refusal(exc) from None


def expire_override(session: Session, principal: Principal, override_id: int, at: datetime) -> OncallOverride:
    principal.require("oncall.manage")
    if not principal.city_wide:
        raise Forbidden(f"{principal.username} may not change city-wide schedules")
    if session.get(OncallOverride, override_id) is None:
        raise NotFound(f"no override {override_id}")
    try:
        return editing.expire_override(session, principal.username, override_id, at)
    except SocError as exc:
        raise _refusal(exc) from None
