"""Collector enrolment: a one-time token issued at the SOC becomes a collector's own credential.

`issue` makes a short-lived enrolment token for one agency (shown once, hashed at rest);
`redeem` exchanges it, once, for a collector token bound to that agency (the kind /api/v1/ingest
accepts). Enrolment tokens carry their own prefix, so one can never be used as a bearer token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from soc.db import audit, tokens
from soc.db.enrolment import EnrolmentToken
from soc.db.models import Agency, ApiToken, utcnow
from soc.errors import SocError

ENROL_PREFIX = "socenr_"  # a public marker, not a secret
DEFAULT_TTL = timedelta(hours=1)
MAX_TTL = timedelta(days=7)


class EnrolmentRefused(SocError):
    """The token cannot be exchanged; the message says why (unknown, used, expired, agency gone)."""


@dataclass(frozen=True)
class Enrolled:
    token: str
    """The collector's raw bearer token: returned once, never stored."""
    token_id: int
    agency: str
    name: str


def issue(
    session: Session, agency: Agency, *, name: str, actor: str, ttl: timedelta = DEFAULT_TTL
) -> tuple[str, EnrolmentToken]:
    name = name.strip()
    if not name:
        raise SocError("the collector needs a name (usually the server's host name)")
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise SocError("an enrolment token lives between 1 minute and 7 days")
    raw = ENROL_PREFIX + secrets.token_urlsafe(32)
    row = EnrolmentToken(
        agency_id=agency.id,
        name=name,
        prefix=raw[:12],
        token_hash=tokens.hash_token(raw),
        created_by=actor,
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action="enrolment.issue", target_type="enrolment_token", target_id=row.id,
        agency_id=agency.id,
        detail={"name": name, "prefix": row.prefix, "expires_at": row.expires_at.isoformat()},
    )  # fmt: skip
    return raw, row


def redeem(
    session: Session, raw: str, *, client: str, host: str | None = None, now: datetime | None = None
) -> Enrolled:
    now = now or utcnow()
    if not raw.startswith(ENROL_PREFIX) or len(raw) > 200:
        raise EnrolmentRefused("not an enrolment token (it starts with socenr_)")
    digest = tokens.hash_token(raw)
    row = session.scalar(select(EnrolmentToken).where(EnrolmentToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise EnrolmentRefused("unknown enrolment token")
    if row.used_at is not None:
        _refused(session, row, client, "replayed")
        raise EnrolmentRefused(
            f"enrolment token already used at {row.used_at:%Y-%m-%d %H:%M} UTC; ask the SOC for a new one"
        )
    if row.expires_at <= now:
        _refused(session, row, client, "expired")
        raise EnrolmentRefused(
            f"enrolment token expired at {row.expires_at:%Y-%m-%d %H:%M} UTC; ask the SOC for a new one"
        )
    # Single use even under a race: only the UPDATE that finds used_at still empty wins.
    claimed = session.execute(
        update(EnrolmentToken)
        .where(EnrolmentToken.id == row.id, EnrolmentToken.used_at.is_(None))
        .values(used_at=now, used_from=client[:100])
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise EnrolmentRefused("enrolment token already used; ask the SOC for a new one")
    name = (host or row.name).strip()[:100] or row.name
    actor = f"enrolment:{row.id}"
    secret, token = tokens.create(session, name=name, kind="collector", agency_id=row.agency_id, actor=actor)
    session.execute(
        update(EnrolmentToken).where(EnrolmentToken.id == row.id).values(collector_token_id=token.id)
    )
    audit.record(
        session, actor=actor, action="enrolment.redeem", target_type="enrolment_token", target_id=row.id,
        agency_id=row.agency_id, detail={"client": client, "collector_token_id": token.id, "name": name},
    )  # fmt: skip
    return Enrolled(secret, token.id, row.agency.code, name)


def _refused(session: Session, row: EnrolmentToken, client: str, why: str) -> None:
    audit.record(
        session, actor=f"enrolment:{row.id}", action="enrolment.refused", target_type="enrolment_token",
        target_id=row.id, agency_id=row.agency_id, detail={"client": client, "why": why},
    )  # fmt: skip


def collectors(session: Session, agency: Agency | None = None) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.kind == "collector").order_by(ApiToken.id)
    if agency is not None:
        query = query.where(ApiToken.agency_id == agency.id)
    return list(session.scalars(query))


def pending(session: Session, now: datetime | None = None) -> list[EnrolmentToken]:
    now = now or utcnow()
    query = select(EnrolmentToken).where(EnrolmentToken.used_at.is_(None), EnrolmentToken.expires_at > now)
    return list(session.scalars(query.order_by(EnrolmentToken.id)))
