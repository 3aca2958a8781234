"""Notifications as part of the running service: one thread ticks the decisions and drains the outbox.

`jobs_for(settings, db)` wires the configured on-call file, SMTP relay and second route. Several
service instances may run it against one database: decisions are taken under the groups' rows
and the outbox is claimed row by row, so nothing is sent twice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from soc.db.models import utcnow
from soc.db.session import session_scope
from soc.dossiers.reminders import enqueue_due as dossier_reminders
from soc.dossiers.service import DossierService
from soc.notify.email import Email, SmtpConfig
from soc.notify.oncall import OncallConfig
from soc.notify.outbox import OutboxMetrics, OutboxWorker
from soc.notify.service import NotifyService, for_settings
from soc.settings import Settings
from soc.triage.incident_reminders import due_reminders as incident_reminders

log = logging.getLogger(__name__)


@dataclass
class NotifyJobs:
    db: Engine
    service: NotifyService
    worker: OutboxWorker
    interval_seconds: float = 2.0
    dossiers: DossierService | None = None
    dossier_interval: timedelta = timedelta(minutes=1)
    """Dossier deadlines move in working days; checking them once a minute is plenty."""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._dossiers_checked: datetime | None = None

    def run_once(self) -> tuple[int, int]:
        """One pass: (messages queued by due decisions, messages sent)."""
        with session_scope(self.db) as session:
            queued = self.service.tick(session, utcnow())
        with session_scope(self.db) as session:  # incident reporting deadlines, apart from alert paging
            queued += len(incident_reminders(session, utcnow(), base_url=self.service.base_url))
        now = utcnow()
        if self.dossiers is not None and (
            self._dossiers_checked is None or now - self._dossiers_checked >= self.dossier_interval
        ):
            with session_scope(self.db) as session:  # dossier reminders and escalations
                queued += len(dossier_reminders(session, self.dossiers, now))
            self._dossiers_checked = now
        return queued, self.worker.run_once()

    def start(self) -> NotifyJobs:
        self._thread = threading.Thread(target=self._loop, name="soc-notify", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look at the groups now: detection calls this after writing alerts (in this process)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            delay = self.interval_seconds
            try:
                self.service.reload_if_changed()
                self.run_once()
                delay = self._until_next_decision()
            except Exception:  # the heartbeat going stale is what the watchdog sees
                log.exception("notification pass failed; trying again")
            self._wake.wait(delay)
            self._wake.clear()

    def _until_next_decision(self) -> float:
        """Seconds to sleep: until the next group decision falls due, at most one interval, so a
        group wait ends with its page rather than up to a tick later."""
        with session_scope(self.db) as session:
            due = self.service.next_due(session, utcnow())
        if due is None:
            return self.interval_seconds
        return min(self.interval_seconds, max(0.01, (due - utcnow()).total_seconds()))


def jobs_for(
    settings: Settings,
    db: Engine,
    *,
    config: OncallConfig | None = None,
    registry: CollectorRegistry | None = None,
) -> NotifyJobs:
    service = for_settings(settings, config)
    email = Email(SmtpConfig.from_settings(settings))
    worker = OutboxWorker(
        db, {"primary": email, "secondary": email}, max_attempts=settings.notify_max_attempts,
        metrics=OutboxMetrics(registry), dead_letter_to=settings.notify_dead_letter_to, domain=service.domain,
    )  # fmt: skip
    return NotifyJobs(db, service, worker, dossiers=DossierService.from_settings(settings))
