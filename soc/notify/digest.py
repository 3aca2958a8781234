"""The daily digest: low-severity groups are listed once a day instead of paging anyone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db.notify import AlertGroup, OutboxMessage
from soc.notify.base import Outgoing
from soc.notify.message import format_time, new_message_id
from soc.notify.outbox import enqueue

if TYPE_CHECKING:
    from soc.notify.service import NotifyService, Recipient

TITLES = {"vi": "Tóm tắt cảnh báo mức thấp trong ngày", "en": "Daily digest of low-severity alerts"}


def queue_digest(service: NotifyService, session: Session, now: datetime) -> int:
    """Once a day, after `digest.at` local time, one mail per digest recipient; returns mails queued."""
    config = service.config
    local = now.astimezone(config.zone)
    due = local.replace(hour=config.digest_at.hour, minute=config.digest_at.minute, second=0, microsecond=0)
    if local < due:
        return 0
    already = session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.kind == "digest", OutboxMessage.created_at >= due)
        .limit(1)
    )
    groups = list(
        session.scalars(
            select(AlertGroup)
            .where(AlertGroup.digest.is_(True), AlertGroup.digested_at.is_(None))
            .order_by(AlertGroup.first_at)
        )
    )
    if already or not groups:
        return 0
    # Each person's digest lists only the groups they may see (role targets respect agencies).
    seen: dict[Recipient, list[AlertGroup]] = {}
    for g in groups:
        for person in service.recipients(session, config.digest_targets, now, agency=g.agency):
            seen.setdefault(person, []).append(g)
    queued = 0
    for person, theirs in seen.items():
        lang = person.locale if person.locale in TITLES else "vi"
        lines = [
            f"- [{g.level.upper()}] {g.rule_title} — {g.agency or '-'} — {g.alert_count} — "
            f"{format_time(g.first_at, config.zone)} — {service.base_url}/alerts?group={g.public_id}"
            for g in theirs
        ]
        text = TITLES[lang] + f" ({local:%d/%m/%Y})\n\n" + "\n".join(lines) + "\n"
        html = (
            "<h3>"
            + TITLES[lang]
            + "</h3><ul>"
            + "".join(f"<li>{_escape(x[2:])}</li>" for x in lines)
            + "</ul>"
        )
        subject = f"[SOC][DIGEST:{len(theirs)}] {TITLES[lang]} — {local:%d/%m/%Y}"
        out = Outgoing(person.email, subject, new_message_id("digest", service.domain), text, html)
        enqueue(session, out, kind="digest", now=now, locale=lang)
        queued += 1
    for g in groups:
        g.digested_at = now
    return queued


def next_digest_at(service: NotifyService, now: datetime) -> datetime:
    local = now.astimezone(service.config.zone)
    at = local.replace(hour=service.config.digest_at.hour, minute=service.config.digest_at.minute, second=0)
    return at if at > local else at + timedelta(days=1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
