"""Deciding who is told what, and when: group waits, paging, escalation, repeats, acks, resolves.

Detection calls `on_new_alerts(session, alert_ids, now)` in the transaction that wrote the
alerts. `NotifyService.tick(session, now)` runs every few seconds; each decision and the outbox
rows it produces commit together, so a notice is never decided without being queued, nor queued
twice. Workers (soc.notify.outbox) deliver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import false, or_, select, update
from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.models import Agency, RoleGrant, User
from soc.db.notify import AlertGroup, OncallOverride, OutboxMessage, Silence
from soc.errors import ConfigError
from soc.notify import acktoken, grouping, oncall
from soc.notify.base import Outgoing
from soc.notify.digest import queue_digest
from soc.notify.message import Links, Mail, new_message_id, render, root_message_id, subject
from soc.notify.oncall import OncallConfig, Override
from soc.notify.outbox import enqueue
from soc.settings import Settings

log = logging.getLogger(__name__)
on_new_alerts = grouping.on_new_alerts
OPEN = ("pending", "firing", "acknowledged")
CITY_WIDE_ROLES = ("admin", "soc_analyst", "oncall")
"""Roles that hear about every agency's alerts when held city-wide; any other grant needs the agency."""


@dataclass(frozen=True)
class Recipient:
    email: str
    username: str | None
    locale: str


class NotifyService:
    def __init__(
        self,
        config: OncallConfig,
        *,
        secret_key: str,
        base_url: str,
        domain: str = "localhost",
        config_path: Path | None = None,
    ) -> None:
        self.config, self.secret_key = config, secret_key
        self.base_url, self.domain = base_url.rstrip("/"), domain
        self.config_path = config_path
        self._config_stamp = _stamp(config_path)
        self.queued = 0

    def reload_if_changed(self) -> bool:
        """Take up an edited on-call file (the web app's schedule editor rewrites it) without a
        restart. A file that no longer validates is logged with its problems and the running
        configuration stays, so a bad edit never stops paging."""
        stamp = _stamp(self.config_path)
        if self.config_path is None or stamp == self._config_stamp:
            return False
        self._config_stamp = stamp
        try:
            self.config = oncall.load(self.config_path)
        except ConfigError as exc:
            log.error("on-call file not reloaded, keeping the running one: %s", "; ".join(exc.problems))
            return False
        log.info("on-call file reloaded: %s", self.config_path)
        return True

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        """The earliest future moment a group decision falls due (a group wait ending, an
        escalation step, a repeat, an ack timeout), so the runner can wake exactly then instead
        of a whole tick later. Decisions already due but held (silence, quiet hours) are not
        counted: those are looked at on the regular tick."""
        wait = self.config.group_wait
        rows = session.execute(
            select(
                AlertGroup.state, AlertGroup.next_notify_at, AlertGroup.escalation_next_at,
                AlertGroup.ack_expires_at,
            ).where(AlertGroup.state.in_(OPEN), AlertGroup.digest == false())
        ).all()  # fmt: skip
        due: list[datetime] = []
        for state, notify_at, escalate_at, ack_expires in rows:
            if state == "pending" and notify_at is not None:
                due.append(notify_at + wait)
            elif state == "firing":
                due += [at for at in (notify_at, escalate_at) if at is not None]
            elif state == "acknowledged" and ack_expires is not None:
                due.append(ack_expires)
        future = [at for at in due if at > now]
        return min(future) if future else None

    def tick(self, session: Session, now: datetime) -> int:
        """Every decision due at `now`; returns how many messages were queued."""
        self.queued = 0
        for group in session.scalars(select(AlertGroup).where(AlertGroup.state.in_(OPEN))).all():
            if self._resolve_if_over(session, group, now):
                continue
            if group.state == "pending":
                self._first_notice(session, group, now)
            elif group.state == "acknowledged" and group.ack_expires_at and group.ack_expires_at <= now:
                group.state, group.version, group.escalation_next_at = "firing", group.version + 1, now
                log.info("acknowledgement timed out; escalation resumes: group=%s", group.public_id)
            # A silence added while a group pages holds its escalation and repeats too
            # (Alertmanager's meaning); paging goes on where it stood once the silence ends.
            if group.state == "firing" and not group.digest and not self._silenced(session, group, now):
                self._escalate(session, group, now)
                self._repeat(session, group, now)
        self.queued += queue_digest(self, session, now)
        session.flush()
        return self.queued

    def _first_notice(self, session: Session, group: AlertGroup, now: datetime) -> None:
        assert group.next_notify_at is not None
        if group.next_notify_at + self.config.group_wait > now or self._silenced(session, group, now):
            return
        route = self.config.route(group.level, group.agency, group.tags)
        if route.digest:
            group.state, group.digest, group.next_notify_at = "firing", True, None
            return
        quiet = self.config.quiet_until(now, group.level)
        if quiet is not None:
            group.next_notify_at = quiet - self.config.group_wait
            return
        policy = self.config.policy(route.policy)
        group.state, group.version, group.policy = "firing", group.version + 1, policy.name
        group.escalation_level, group.escalation_round = 0, 0
        self._page(session, group, 0, "firing", now)

    def _page(self, session: Session, group: AlertGroup, level: int, kind: str, now: datetime) -> None:
        policy = self.config.policy(group.policy)
        group.escalation_level = level
        group.notified_count = group.alert_count
        if kind == "firing":
            group.next_notify_at = now + self.config.repeat_interval
        if level + 1 < len(policy.levels):
            group.escalation_next_at = now + policy.levels[level + 1].delay
        elif group.escalation_round < policy.repeat:
            group.escalation_next_at = now + max(policy.levels[-1].delay, policy.ack_timeout / 2)
        else:
            group.escalation_next_at = None
        people = self.recipients(session, policy.levels[level].targets, now, agency=group.agency)
        if not people:
            log.error("nobody to page: group=%s policy=%s level=%s", group.public_id, policy.name, level + 1)
        for person in people:
            self.queue(session, group, kind, person, now, level=str(level + 1))

    def _escalate(self, session: Session, group: AlertGroup, now: datetime) -> None:
        if group.escalation_next_at is None or group.escalation_next_at > now:
            return
        policy = self.config.policy(group.policy)
        level = group.escalation_level + 1
        if level >= len(policy.levels):
            level, group.escalation_round = 0, group.escalation_round + 1
        self._page(session, group, level, "escalation", now)

    def _repeat(self, session: Session, group: AlertGroup, now: datetime) -> None:
        if group.next_notify_at is None or group.next_notify_at > now:
            return
        group.next_notify_at = now + self.config.repeat_interval
        group.notified_count = group.alert_count
        for person in self.paged(session, group):
            self.queue(session, group, "repeat", person, now)

    def _resolve_if_over(self, session: Session, group: AlertGroup, now: datetime) -> bool:
        # A pending group (held by the wait, a silence or quiet hours) is told before it can resolve.
        quiet_for = group.state != "pending" and now - group.last_at >= self.config.resolve_after
        if not (quiet_for or grouping.all_closed(session, group)):
            return False
        group.state, group.open_key, group.resolved_at = "resolved", None, now
        group.version, group.escalation_next_at = group.version + 1, None
        for person in self.paged(session, group):
            self.queue(session, group, "resolved", person, now)
        return True

    def acknowledge(
        self, session: Session, group: AlertGroup, username: str, now: datetime, *, via: str
    ) -> None:
        """Stop paging until the policy's ack timeout; audited as the real user."""
        policy = self.config.policy(group.policy)
        group.state, group.version = "acknowledged", group.version + 1
        group.acked_by, group.acked_at = username, now
        group.ack_expires_at, group.escalation_next_at = now + policy.ack_timeout, None
        agency = (
            session.scalar(select(Agency.id).where(Agency.code == group.agency)) if group.agency else None
        )
        audit.record(
            session, actor=username, action="alert_group.acknowledge", target_type="alert_group",
            target_id=group.public_id, agency_id=agency, at=now,
            detail={"via": via, "rule_id": group.rule_id, "alerts": group.alert_count},
        )  # fmt: skip
        for person in self.paged(session, group):
            if person.username != username:
                self.queue(session, group, "acknowledged", person, now, acked_by=username)

    def queue(
        self, session: Session, group: AlertGroup, kind: str, to: Recipient, now: datetime, **extra: str
    ) -> None:
        zone = self.config.zone
        root = root_message_id(group, to.email, self.domain)
        first = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.group_id == group.id, OutboxMessage.recipient == to.email
            )
        )
        ack = None
        if kind in ("firing", "escalation", "repeat") and to.username and self.secret_key:
            token = acktoken.sign(
                self.secret_key, group=group.public_id, recipient=to.email, username=to.username,
                version=group.version, now=now,
            )  # fmt: skip
            ack = f"{self.base_url}/ack/{group.public_id}?t={token}"
        if kind == "acknowledged" and group.acked_at:
            extra["acked_at"] = _fmt(group.acked_at, zone)
        agency_name = (
            session.scalar(select(Agency.name).where(Agency.code == group.agency)) if group.agency else None
        )
        links = Links(
            group=f"{self.base_url}/alerts?group={group.public_id}",
            runbook=f"{self.base_url}/rules/{group.rule_id}",
            ack=ack,
        )
        mail = Mail(kind, group, grouping.members(session, group), agency_name, links, zone, dict(extra))
        text, html = render(mail, to.locale)
        out = Outgoing(
            recipient=to.email, subject=subject(group, kind, agency_name),
            message_id=new_message_id(group.public_id, self.domain) if first else root,
            in_reply_to=root if first else None, text=text, html=html, group_id=group.public_id,
        )  # fmt: skip
        enqueue(session, out, kind=kind, now=now, group_id=group.id, locale=to.locale)
        self.queued += 1

    def recipients(
        self, session: Session, targets: Iterable[str], now: datetime, *, agency: str | None
    ) -> list[Recipient]:
        """Who the targets name at `now` about an alert of `agency` (its code; None: no agency).

        `role:` targets only reach people who may see that agency's alerts: city-wide roles held
        city-wide, or any role held for that very agency. `user:` and `schedule:` targets are
        people the on-call file names explicitly and are taken as written.
        """
        active = select(OncallOverride).where(OncallOverride.start_at <= now, OncallOverride.end_at > now)
        overrides = tuple(
            Override(o.schedule, o.username, o.start_at, o.end_at)
            for o in session.scalars(active.order_by(OncallOverride.id))
        )
        names: list[str] = []
        for target in targets:
            kind, _, ref = target.partition(":")
            if kind == "user":
                names.append(ref)
            elif kind == "schedule" and ref in self.config.schedules:
                who = self.config.schedules[ref].who(now, overrides)
                names += [who] if who else []
            elif kind == "role":
                names += _role_holders(session, ref, agency)
        users = {
            u.username: u
            for u in session.scalars(select(User).where(User.username.in_(names), User.is_active))
        }
        found = [users[n] for n in dict.fromkeys(names) if n in users]
        return [Recipient(u.email, u.username, u.locale) for u in found]

    def paged(self, session: Session, group: AlertGroup) -> list[Recipient]:
        """Everyone who got a mail about this group so far."""
        rows = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.locale)
            .where(OutboxMessage.group_id == group.id)
            .order_by(OutboxMessage.id)
        ).all()
        by_email = {
            u.email: u.username
            for u in session.scalars(select(User).where(User.email.in_([r[0] for r in rows])))
        }
        seen = dict.fromkeys((email, locale) for email, locale in rows)
        return [Recipient(email, by_email.get(email), locale) for email, locale in seen]

    def _silenced(self, session: Session, group: AlertGroup, now: datetime) -> bool:
        """Held back by an active silence; the silence's hits count each alert once, not each tick.

        A silenced group stays pending and is looked at on every tick, so only the alerts counted
        into it since the last look are new hits; `notified_count` marks how many were accounted
        for (told about, or silenced) — the first page sets it again anyway.
        """
        fields = {"rule_id": group.rule_id, "agency": group.agency, "level": group.level}
        active = select(Silence).where(Silence.starts_at <= now, Silence.expires_at > now)
        for s in session.scalars(active.order_by(Silence.id)):
            if all(fields.get(k) == v for k, v in s.matchers.items()):
                new = group.alert_count - group.notified_count
                if new > 0:
                    # In SQL: two services ticking at once must not lose each other's hits.
                    session.execute(update(Silence).where(Silence.id == s.id).values(hits=Silence.hits + new))
                    group.notified_count = group.alert_count
                return True
        return False


def _role_holders(session: Session, role: str, agency: str | None) -> list[str]:
    agency_id = session.scalar(select(Agency.id).where(Agency.code == agency)) if agency else None
    for_agency = RoleGrant.agency_id == agency_id if agency_id is not None else false()
    allowed = or_(RoleGrant.agency_id.is_(None), for_agency) if role in CITY_WIDE_ROLES else for_agency
    query = select(User.username).join(RoleGrant).where(RoleGrant.role == role, allowed)
    return list(session.scalars(query.order_by(User.username)).unique())


def for_settings(settings: Settings, config: OncallConfig | None = None) -> NotifyService:
    """The service as configured: on-call YAML (or the built-in default), secret key, links, domain."""
    path = None
    if config is None:
        path = Path(settings.oncall_file) if settings.oncall_file else settings.data_dir / "oncall.yml"
        config = oncall.load(path) if path.exists() or settings.oncall_file else OncallConfig()
    base_url = settings.base_url or f"http://{settings.host}:{settings.port}"
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "localhost"
    return NotifyService(
        config, secret_key=settings.secret_key, base_url=base_url, domain=domain, config_path=path
    )


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """What tells an edited file apart (mtime in ns and size); None while there is no file."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st is not None else None


def _fmt(at: datetime, zone: ZoneInfo) -> str:
    from soc.notify.message import format_time

    return format_time(at, zone)
