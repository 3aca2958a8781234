"""Reminder and escalation e-mails for dossier deadlines, handed to the notification outbox.

The outbox (soc.notify.outbox) delivers them over SMTP with retries. A notice is marked as handed
over in the same transaction that enqueues it, so it goes out exactly once. The outbox only
accepts the message kinds its table allows: escalations use "escalation"; reminders wait until it
allows "reminder" (they stay due, nothing is lost).
"""

from __future__ import annotations

import html
from datetime import datetime

from sqlalchemy.orm import Session

from soc.db.dossiers import Dossier
from soc.db.models import User
from soc.db.notify import MESSAGE_KINDS
from soc.dossiers.deadlines import Reminder, due_reminders, mark_sent
from soc.dossiers.service import DossierService
from soc.notify.base import Outgoing
from soc.notify.outbox import enqueue

SUBJECT = {
    ("reminder", "en"): "[SOC] Dossier {id} \u2013 {deadline} due {due}",
    ("reminder", "vi"): "[SOC] Hồ sơ {id} \u2013 hạn {deadline} ngày {due}",
    ("escalation", "en"): "[SOC] OVERDUE: dossier {id} \u2013 {deadline} was due {due}",
    ("escalation", "vi"): "[SOC] QUÁ HẠN: hồ sơ {id} \u2013 {deadline} hết hạn ngày {due}",
}
BODY = {
    "en": "{title} ({agency}), level L{level}, state: {state}.\n{deadline}: last day {due}.\n"
    "Open the dossier: {link}\n",
    "vi": "{title} ({agency}), cấp độ L{level}, trạng thái: {state}.\n{deadline}: hạn cuối {due}.\n"
    "Mở hồ sơ: {link}\n",
}
LINK_TEXT = {"en": "Open the dossier", "vi": "Mở hồ sơ"}


def enqueue_due(session: Session, service: DossierService, now: datetime) -> list[Reminder]:
    """Enqueue every due reminder and escalation the outbox accepts; returns what was enqueued."""
    done = []
    for reminder in due_reminders(session, now, service):
        if reminder.kind not in MESSAGE_KINDS:
            continue
        dossier = session.get_one(Dossier, reminder.dossier_id)
        for username in reminder.recipients:
            user = session.query(User).filter_by(username=username).one()
            enqueue(session, _message(service, dossier, reminder, user), kind=reminder.kind, now=now,
                    locale=user.locale)  # fmt: skip
        mark_sent(session, reminder, now)
        done.append(reminder)
    return done


def _message(service: DossierService, dossier: Dossier, reminder: Reminder, user: User) -> Outgoing:
    lang = user.locale if user.locale in ("en", "vi") else "vi"
    playbook = service.playbook_of(dossier)
    deadline = next(d for d in playbook.deadlines if d.name == reminder.deadline)
    url = service.link(dossier.id)
    values = {
        "id": dossier.id, "deadline": deadline.title.get(lang), "due": reminder.due_on.strftime("%d/%m/%Y"),
        "title": dossier.title, "agency": dossier.agency.name, "level": dossier.level,
        "state": playbook.states[dossier.state].title.get(lang), "link": url,
    }  # fmt: skip
    text = BODY[lang].format(**values)
    lines = html.escape(text.rpartition(LINK_TEXT[lang])[0]).replace("\n", "<br>")
    key = f"{dossier.id}.{reminder.deadline}.{reminder.anchor_at:%Y%m%d%H%M%S}"
    key += f".{reminder.kind}.{reminder.days_before}"
    return Outgoing(
        recipient=user.email,
        subject=SUBJECT[(reminder.kind, lang)].format(**values),
        message_id=f"<dossier.{key}.{user.id}@soc>",
        text=text,
        html=f'<p>{lines}<a href="{html.escape(url, quote=True)}">{LINK_TEXT[lang]}</a></p>',
    )
