"""Bearer tokens for collectors (one agency each) and for the API.

The raw token is shown once, at creation; only its SHA-256 is stored (see ApiToken for why a
fast hash is right here). A collector token always names exactly one agency, and the agency of
every event it sends comes from the token, never from the payload.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.models import TOKEN_KINDS, Agency, ApiToken, User, utcnow
from soc.errors import SocError

TOKEN_PREFIX = "soc_"  # noqa: S105 - a public marker, not a secret
PREFIX_SHOWN = 8
# Writing last_used_at on every request would turn each ingest call into a write; once a minute
# is precise enough to spot unused tokens.
LAST_USED_PRECISION = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenInfo:
    """What a verified token may do; enough to authorise a request without more queries."""

    token_id: int
    kind: str
    agency_id: int | None
    agency_code: str | None
    scopes: tuple[str, ...]
    user_id: int | None


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create(
    session: Session,
    *,
    name: str,
    kind: str,
    agency_id: int | None = None,
    user_id: int | None = None,
    scopes: Iterable[str] = (),
    expires_at: datetime | None = None,
    actor: str,
) -> tuple[str, ApiToken]:
    """Make a token; returns the raw token (show it once, it cannot be recovered) and its row."""
    name = name.strip()
    if not name:
        raise SocError("token name must not be empty")
    if kind not in TOKEN_KINDS:
        raise SocError(f"unknown token kind '{kind}' (expected one of {', '.join(TOKEN_KINDS)})")
    if kind == "collector" and agency_id is None:
        raise SocError("a collector token needs exactly one agency (--agency CODE)")
    if agency_id is not None and session.get(Agency, agency_id) is None:
        raise SocError(f"unknown agency id {agency_id}")
    if user_id is not None and session.get(User, user_id) is None:
        raise SocError(f"unknown user id {user_id}")
    if expires_at is not None and expires_at.tzinfo is None:
        raise SocError("expires_at must be timezone-aware")
    clean_scopes = sorted({s.strip() for s in scopes if s.strip()})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=raw[:PREFIX_SHOWN],
        token_hash=hash_token(raw),
        kind=kind,
        scopes=clean_scopes,
        agency_id=agency_id,
        user_id=user_id,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.create",
        target_type="api_token",
        target_id=token.id,
        agency_id=agency_id,
        detail={
            "name": name,
            "kind": kind,
            "prefix": token.prefix,
            "scopes": clean_scopes,
            "user_id": user_id,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return raw, token


def verify(session: Session, raw: str, *, now: datetime | None = None) -> TokenInfo | None:
    """The token's rights, or None when it is unknown, revoked or expired."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    digest = hash_token(raw)
    # The lookup is by hash, which an attacker cannot steer byte by byte; the constant-time
    # comparison below keeps that true even if the index lookup were to leak timing.
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    now = now or utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        session.flush()
    return TokenInfo(
        token_id=token.id,
        kind=token.kind,
        agency_id=token.agency_id,
        agency_code=token.agency.code if token.agency else None,
        scopes=tuple(token.scopes),
        user_id=token.user_id,
    )


def revoke(session: Session, token_id: int, actor: str, *, now: datetime | None = None) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise SocError(f"unknown token id {token_id}")
    if token.revoked_at is not None:
        raise SocError(f"token {token_id} ({token.name}) is already revoked")
    token.revoked_at = now or utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.revoke",
        target_type="api_token",
        target_id=token.id,
        agency_id=token.agency_id,
        detail={"name": token.name, "kind": token.kind, "prefix": token.prefix},
    )
    return token


def list_tokens(
    session: Session, *, agency_id: int | None = None, include_revoked: bool = True
) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if agency_id is not None:
        query = query.where(ApiToken.agency_id == agency_id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))
