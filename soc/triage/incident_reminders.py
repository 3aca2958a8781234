"""Reminder e-mails for incident reports: when an open incident's initial notice or full report is
due within REMIND_BEFORE or overdue, the owner and creator (else the city SOC) get one mail per
report and stage, in their language, through the notification outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db import accounts
from soc.db.models import RoleGrant, User
from soc.db.triage import Incident
from soc.triage.incidents import REMIND_BEFORE, timers
from soc.triage.principal import PERMISSIONS

REPORT_NAMES = {
    "initial_notice": {"en": "initial notice", "vi": "thông báo ban đầu"},
    "full_report": {"en": "full report", "vi": "báo cáo đầy đủ"},
}
SUBJECT = {
    ("soon", "en"): "[SOC] Incident #{id} \u2013 {report} due {due}",
    ("soon", "vi"): "[SOC] Sự cố #{id} \u2013 hạn {report} lúc {due}",
    ("overdue", "en"): "[SOC] OVERDUE: incident #{id} \u2013 {report} was due {due}",
    ("overdue", "vi"): "[SOC] QUÁ HẠN: sự cố #{id} \u2013 {report} đã hết hạn lúc {due}",
}
BODY = {
    "en": "Incident #{id}: {title}\nAgency: {agency}. Severity: {severity}. Status: {status}.\n"
    "The {report} is due {due} ({left}). Record it on the incident page once it is sent.\n{link}\n",
    "vi": "Sự cố #{id}: {title}\nCơ quan: {agency}. Mức độ: {severity}. Trạng thái: {status}.\n"
    "Hạn gửi {report}: {due} ({left}). Sau khi gửi, hãy ghi nhận trên trang sự cố.\n{link}\n",
}
LEFT = {
    ("soon", "en"): "in {minutes} min",
    ("soon", "vi"): "còn {minutes} phút",
    ("overdue", "en"): "overdue by {minutes} min",
    ("overdue", "vi"): "đã quá hạn {minutes} phút",
}


@dataclass(frozen=True)
class Reminder:
    incident_id: int
    kind: str
    """initial_notice or full_report"""
    stage: str
    """soon (due within 2 h) or overdue"""
    recipients: tuple[str, ...]


def due_reminders(
    session: Session, now: datetime, *, base_url: str = "", timezone: str = "Asia/Ho_Chi_Minh"
) -> list[Reminder]:
    """Enqueue a reminder e-mail for every open incident whose initial notice or full report is due
    within 2 h or overdue: once per (incident, report, stage, due time) and recipient, which the
    outbox's unique Message-ID guarantees even with several service instances."""
    from zoneinfo import ZoneInfo

    from soc.db.notify import OutboxMessage
    from soc.notify.base import Outgoing
    from soc.notify.outbox import enqueue

    zone = ZoneInfo(timezone)
    horizon = now + REMIND_BEFORE
    notice = Incident.initial_notice_at.is_(None) & (Incident.initial_notice_due <= horizon)
    report = (
        Incident.full_report_due.is_not(None)
        & Incident.full_report_at.is_(None)
        & (Incident.full_report_due <= horizon)
    )
    stmt = select(Incident).where(Incident.status != "closed", notice | report).order_by(Incident.id)
    done: list[Reminder] = []
    for incident in session.scalars(stmt):
        for timer in timers(incident, now):
            if timer.state not in ("soon", "overdue"):
                continue
            sent_to = []
            for user in _reminder_recipients(session, incident):
                key = f"{incident.id}.{timer.kind}.{timer.state}.{timer.due_at:%Y%m%d%H%M%S}.{user.id}"
                message_id = f"<incident.{key}@soc>"
                if session.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == message_id)):
                    continue
                lang = user.locale if user.locale in ("en", "vi") else "vi"
                local = timer.due_at.astimezone(zone)
                offset = local.strftime("%z")
                minutes = abs(int(timer.left.total_seconds() // 60))
                values = {
                    "id": incident.id, "title": incident.title,
                    "agency": _agency_name(session, incident.agency), "severity": incident.severity,
                    "status": incident.status,
                    "report": REPORT_NAMES[timer.kind][lang],
                    "due": f"{local:%d/%m/%Y %H:%M} {offset[:3]}:{offset[3:]} ({timer.due_at:%H:%M} UTC)",
                    "left": LEFT[(timer.state, lang)].format(minutes=minutes),
                    "link": f"{base_url.rstrip('/')}/incidents/{incident.id}",
                }  # fmt: skip
                text = BODY[lang].format(**values)
                out = Outgoing(
                    recipient=user.email, subject=SUBJECT[(timer.state, lang)].format(**values),
                    message_id=message_id, text=text, html=_html(text),
                )  # fmt: skip
                enqueue(session, out, kind="reminder", now=now, locale=lang)
                sent_to.append(user.username)
            if sent_to:
                done.append(Reminder(incident.id, timer.kind, timer.state, tuple(sent_to)))
    return done


def _reminder_recipients(session: Session, incident: Incident) -> list[User]:
    """The owner and the creator; when neither can be reached, every city-wide analyst and admin."""
    names = {n for n in (incident.owner, incident.created_by) if n}
    stmt = select(User).where(User.username.in_(sorted(names)), User.is_active.is_(True), User.email != "")
    people = list(session.scalars(stmt.order_by(User.username)))
    if people:
        return people
    city = (
        select(User)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role.in_(sorted(PERMISSIONS["incidents.write"])), RoleGrant.agency_id.is_(None))
        .where(User.is_active.is_(True), User.email != "")
        .distinct()
        .order_by(User.username)
    )
    return list(session.scalars(city))


def _agency_name(session: Session, code: str | None) -> str:
    if code is None:
        return "—"
    agency = accounts.get_agency_by_code(session, code)
    return f"{agency.name} ({code})" if agency else code


def _html(text: str) -> str:
    import html

    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
