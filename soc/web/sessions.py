"""Browser sessions: create at login, look up per request, revoke at logout.

The cookie holds 32 random bytes; the database keeps only their SHA-256 (as for API tokens) so a
database leak does not hand out live sessions. Sessions end after IDLE of inactivity or at
ABSOLUTE age, whichever comes first, and when the user is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from soc.db.models import User, utcnow
from soc.db.triage import WebSession

IDLE = timedelta(hours=8)
ABSOLUTE = timedelta(hours=24)
TOUCH_PRECISION = timedelta(minutes=1)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create(
    session: Session, user: User, client: str | None, *, now: datetime | None = None
) -> tuple[str, WebSession]:
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=_hash(raw),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE,
        client=(client or "")[:200] or None,
    )
    session.add(row)
    session.flush()
    return raw, row


def lookup(session: Session, raw: str, *, now: datetime | None = None) -> tuple[WebSession, User] | None:
    """The live session and its active user, or None. Refreshes last_seen at most once a minute."""
    now = now or utcnow()
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _hash(raw)))
    if row is None or row.revoked_at is not None or row.expires_at <= now or row.last_seen_at + IDLE <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_PRECISION:
        row.last_seen_at = now
        session.flush()
    return row, user


def revoke(session: Session, raw: str, *, now: datetime | None = None) -> None:
    session.execute(
        update(WebSession).where(WebSession.token_hash == _hash(raw)).values(revoked_at=now or utcnow())
    )


def revoke_user(session: Session, user_id: int, *, now: datetime | None = None) -> None:
    """End every session of a user (deactivation, password change)."""
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
