"""`soc demo`'s e-mails: a local SMTP sink under the data directory and an on-call of one (admin)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from soc.db.detection import Alert
from soc.db.models import utcnow
from soc.db.notify import OutboxMessage
from soc.db.session import session_scope
from soc.notify import oncall
from soc.notify.grouping import on_new_alerts
from soc.notify.runner import NotifyJobs, jobs_for
from soc.notify.sink import MailSink
from soc.settings import Settings


@dataclass
class DemoMail:
    sink: MailSink
    jobs: NotifyJobs
    directory: Path
    ack_link: str | None

    def stop(self) -> None:
        self.jobs.stop()
        self.sink.stop()


def deliver(settings: Settings, db: Engine, url: str, username: str, *, keep_running: bool) -> DemoMail:
    """Count every alert into its group, page `username` at once, deliver to `<data_dir>/mail/*.eml`.

    With keep_running the sink and the notification thread stay up (call `stop()`); otherwise
    both are stopped before returning, the messages kept on disk.
    """
    directory = settings.data_dir / "mail"
    sink = MailSink(directory).start()
    settings = dataclasses.replace(
        settings, smtp_host=sink.host, smtp_port=sink.port, smtp_security="plain", base_url=url,
        smtp_from="SOC demo <soc@demo.soc.local>",
    )  # fmt: skip
    config = oncall.parse({
        "group": {"wait": "0s", "repeat": "1h", "resolve_after": "24h"},
        "policies": {"default": {"levels": [{"delay": "0m", "targets": [f"user:{username}"]}], "repeat": 0}},
    })  # fmt: skip
    jobs = jobs_for(settings, db, config=config)
    with session_scope(db) as session:
        ids = list(session.scalars(select(Alert.id)))
        on_new_alerts(session, ids, utcnow())
    jobs.run_once()
    with session_scope(db) as session:
        bodies = session.scalars(select(OutboxMessage.body_text).where(OutboxMessage.kind == "firing"))
        links = [w for body in bodies for w in body.split() if "/ack/" in w]
    mail = DemoMail(sink, jobs, directory, links[0] if links else None)
    if keep_running:
        jobs.start()
    else:
        mail.stop()
    return mail
