"""The durable outbox: rows are the queue, workers claim them with a conditional UPDATE.

`enqueue()` only adds a row to the caller's session, so a message exists exactly when the
transaction that decided to send it commits. A worker owns a row after an UPDATE that moves it
from `pending` (or an expired `sending` lease) to `sending` matched one row; two workers can never
both win. Sending happens outside any transaction; the outcome is written back guarded by the
worker's claim. Temporary failures retry with exponential backoff; a permanent failure or the
last allowed attempt makes a dead letter, which raises an alert and mails the second route.

A worker that dies between the relay's "250 OK" and marking the row sent makes the next worker
send it again after the lease: delivery is at least once, with the same Message-ID, which mail
clients collapse. Everything else is exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update
from sqlalchemy.orm import Session

from soc.alerts.writer import write_alerts
from soc.db.models import utcnow
from soc.db.notify import AlertGroup, DeadLetter, DeliveryAttempt, Heartbeat, OutboxMessage
from soc.db.session import session_scope
from soc.errors import NotifyError
from soc.notify.base import Notifier, Outgoing
from soc.notify.message import new_message_id

log = logging.getLogger(__name__)
DEAD_LETTER_RULE = "soc-notify-dead-letter"


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 30
    factor: float = 2
    max_seconds: float = 3600

    def after(self, attempts: int) -> timedelta:
        return timedelta(
            seconds=min(self.base_seconds * self.factor ** max(attempts - 1, 0), self.max_seconds)
        )


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.sent = Counter("soc_notify_sent", "Notifications accepted by the relay.", ["route"], registry=r)
        self.failed = Counter("soc_notify_failed", "Failed delivery attempts.", ["route", "kind"], registry=r)
        self.dead = Counter(
            "soc_notify_dead", "Notifications given up on (dead letters).", ["route"], registry=r
        )
        self.lag = Gauge("soc_notify_lag_seconds", "Age of the oldest due, unsent notification.", registry=r)
        self.heartbeat = Gauge(
            "soc_notify_heartbeat_timestamp", "Last outbox worker pass (unix).", registry=r
        )


def enqueue(
    session: Session,
    out: Outgoing,
    *,
    kind: str,
    now: datetime,
    group_id: int | None = None,
    route: str = "primary",
    locale: str = "vi",
) -> OutboxMessage:
    row = OutboxMessage(
        group_id=group_id, kind=kind, route=route, recipient=out.recipient, locale=locale,
        subject=out.subject, message_id=out.message_id, in_reply_to=out.in_reply_to,
        body_text=out.text, body_html=out.html, status="pending", attempts=0, next_attempt_at=now,
        created_at=now,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def _due(now: datetime) -> ColumnElement[bool]:
    pending = and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
    abandoned = and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now)
    return or_(pending, abandoned)


class OutboxWorker:
    def __init__(
        self,
        db: Engine,
        notifiers: Mapping[str, Notifier],
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 20,
        metrics: OutboxMetrics | None = None,
        dead_letter_to: str = "",
        domain: str = "localhost",
    ) -> None:
        self.db, self.notifiers, self.clock = db, dict(notifiers), clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.max_attempts, self.backoff, self.lease, self.batch = (
            max_attempts,
            backoff or Backoff(),
            lease,
            batch,
        )
        self.metrics = metrics or OutboxMetrics()
        self.dead_letter_to, self.domain = dead_letter_to, domain

    def run_once(self) -> int:
        """Claim due rows, send each, record the outcome; returns how many were sent."""
        sent = failed = 0
        for row_id in self.claim():
            if self.deliver(row_id):
                sent += 1
            else:
                failed += 1
        self._beat(sent, failed)
        return sent

    def claim(self) -> list[int]:
        now = self.clock()
        with session_scope(self.db) as session:
            ids = list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(_due(now))
                    .order_by(OutboxMessage.next_attempt_at)
                    .limit(self.batch)
                )
            )
        mine: list[int] = []
        for row_id in ids:
            with session_scope(self.db) as session:
                won = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id, _due(now))
                    .values(
                        status="sending",
                        claimed_by=self.worker_id,
                        claimed_until=now + self.lease,
                        attempts=OutboxMessage.attempts + 1,
                    )
                ).rowcount  # type: ignore[attr-defined]
            if won == 1:
                mine.append(row_id)
        return mine

    def deliver(self, row_id: int) -> bool:
        with session_scope(self.db) as session:
            row = session.get(OutboxMessage, row_id)
            assert row is not None
            group = session.get(AlertGroup, row.group_id) if row.group_id is not None else None
            out = Outgoing(
                recipient=row.recipient, subject=row.subject, message_id=row.message_id, text=row.body_text,
                html=row.body_html, in_reply_to=row.in_reply_to,
                references=(row.in_reply_to,) if row.in_reply_to else (),
                group_id=group.public_id if group is not None else None,
            )  # fmt: skip
            route, attempts = row.route, row.attempts
        notifier = self.notifiers.get(route) or self.notifiers["primary"]
        began = time.monotonic()
        error: NotifyError | None = None
        try:
            notifier.send(out)
        except NotifyError as exc:
            error = exc
        except Exception as exc:  # a transport bug must not kill the worker; retry like a 4xx
            error = NotifyError(f"{type(exc).__name__}: {exc}")
        self._record(row_id, route, attempts, error, int((time.monotonic() - began) * 1000))
        return error is None

    def _record(self, row_id: int, route: str, attempts: int, error: NotifyError | None, ms: int) -> None:
        now = self.clock()
        outcome = "sent" if error is None else "permanent" if error.permanent else "temporary"
        give_up = error is not None and (error.permanent or attempts >= self.max_attempts)
        values: dict[str, object] = {"claimed_by": None, "claimed_until": None}
        if error is None:
            values.update(status="sent", sent_at=now, last_error=None)
        elif give_up:
            values.update(status="dead", last_error=str(error))
        else:
            values.update(
                status="pending", next_attempt_at=now + self.backoff.after(attempts), last_error=str(error)
            )
        with session_scope(self.db) as session:
            session.add(
                DeliveryAttempt(
                    outbox_id=row_id, at=now, worker=self.worker_id, outcome=outcome,
                    error=None if error is None else str(error), duration_ms=ms,
                )
            )  # fmt: skip
            owned = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == self.worker_id)
                .values(**values)
            ).rowcount  # type: ignore[attr-defined]
            if owned != 1:
                log.warning("outbox row was reclaimed while sending: id=%s worker=%s", row_id, self.worker_id)
                return
            if error is None:
                self.metrics.sent.labels(route).inc()
                return
            self.metrics.failed.labels(route, outcome).inc()
            log.warning(
                "notification failed: id=%s attempt=%s permanent=%s error=%s",
                row_id,
                attempts,
                error.permanent,
                error,
            )
            if give_up:
                self.metrics.dead.labels(route).inc()
                self._dead_letter(session, row_id, str(error), now)

    def _dead_letter(self, session: Session, row_id: int, reason: str, now: datetime) -> None:
        """Record it, raise an alert the UI shows, and mail the second route (unless this was it)."""
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        alert_id = hashlib.sha256(f"{DEAD_LETTER_RULE}:{row.message_id}".encode()).hexdigest()
        title = f"Notification to {row.recipient} could not be delivered / Không gửi được thông báo"
        write_alerts(session, [_dead_letter_alert(alert_id, title, row, reason, now)], now)
        session.add(DeadLetter(outbox_id=row_id, reason=reason, alert_id=alert_id, created_at=now))
        log.error(
            "notification is a dead letter: id=%s recipient=%s reason=%s", row_id, row.recipient, reason
        )
        if row.route == "secondary" or not self.dead_letter_to:
            return
        text = (
            f"Thông báo sau KHÔNG gửi được / This notification could NOT be delivered:\n\n"
            f"  {row.subject}\n  → {row.recipient}\n  {reason}\n\nAttempts: {row.attempts}\n"
        )
        out = Outgoing(
            recipient=self.dead_letter_to, subject=f"[SOC][DEAD LETTER] {row.subject}",
            message_id=new_message_id("dead", self.domain), text=text, html=f"<pre>{_escape(text)}</pre>",
        )  # fmt: skip
        enqueue(session, out, kind="dead_letter", now=now, group_id=row.group_id, route="secondary")

    def _beat(self, sent: int, failed: int) -> None:
        now = self.clock()
        with session_scope(self.db) as session:
            beat = session.get(Heartbeat, self.worker_id)
            if beat is None:
                beat = Heartbeat(worker=self.worker_id, beat_at=now, sent=0, failed=0)
                session.add(beat)
            beat.beat_at, beat.sent, beat.failed = now, beat.sent + sent, beat.failed + failed
            oldest = session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(_due(now)))
        self.metrics.lag.set((now - oldest).total_seconds() if oldest else 0)
        self.metrics.heartbeat.set(now.timestamp())

    def run_forever(self, stop: threading.Event, interval_seconds: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the watchdog heartbeat shows a worker that keeps failing
                log.exception("outbox pass failed; trying again: worker=%s", self.worker_id)
            stop.wait(interval_seconds)


def health(
    session: Session, now: datetime, *, stale_after: timedelta = timedelta(minutes=2)
) -> dict[str, object]:
    """The watchdog's view: is some worker beating, and how far behind is the queue?"""
    last = session.scalar(select(func.max(Heartbeat.beat_at)))
    oldest = session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(_due(now)))
    counts = dict(
        session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    )
    alive = last is not None and now - last <= stale_after
    return {
        "status": "ok" if alive else "stale",
        "last_heartbeat_at": last.isoformat() if last else None,
        "lag_seconds": (now - oldest).total_seconds() if oldest else 0.0,
        "counts": {str(k): int(v) for k, v in counts.items()},
    }


def _dead_letter_alert(
    alert_id: str, title: str, row: OutboxMessage, reason: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": alert_id, "rule_id": DEAD_LETTER_RULE, "rule_version": "1", "rule_title": title,
        "level": "high", "tags": ["soc.notify"], "agency": None, "host": None, "user_name": row.recipient,
        "source_ip": None, "group_key": {"outbox.id": row.id, "reason": reason[:300]}, "first_at": now,
        "last_at": now, "count": 1,
        "events": [], "window_start": now, "window_end": now, "backfill": False, "status": "new",
        "suppression_id": None, "created_at": now,
    }  # fmt: skip


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
