"""Collector and API tokens: create, verify, revoke, expiry, one agency per collector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from soc.db import tokens
from soc.db.models import Agency, ApiToken, AuditEntry
from soc.errors import SocError


def collector(
    session: Session, agency: Agency, scopes: list[str] | None = None, expires_at: datetime | None = None
) -> tuple[str, ApiToken]:
    raw, token = tokens.create(
        session,
        name="web01",
        kind="collector",
        agency_id=agency.id,
        scopes=scopes or [],
        expires_at=expires_at,
        actor="admin",
    )
    session.commit()
    return raw, token


def test_it_creates_a_token_that_verifies(session: Session, agency_a: Agency) -> None:
    raw, token = collector(session, agency_a, scopes=["ingest"])

    info = tokens.verify(session, raw)

    assert raw.startswith("soc_")
    assert info == tokens.TokenInfo(
        token_id=token.id,
        kind="collector",
        agency_id=agency_a.id,
        agency_code="stttt",
        scopes=("ingest",),
        user_id=None,
    )


def test_it_stores_only_the_hash_and_a_short_prefix(session: Session, agency_a: Agency) -> None:
    raw, token = collector(session, agency_a)

    assert token.token_hash == tokens.hash_token(raw)
    assert raw not in token.token_hash
    assert token.prefix == raw[:8]


def test_it_refuses_an_unknown_token(session: Session, agency_a: Agency) -> None:
    raw, _ = collector(session, agency_a)

    assert tokens.verify(session, raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert tokens.verify(session, "not-a-token") is None
    assert tokens.verify(session, "") is None


def test_it_refuses_a_revoked_token(session: Session, agency_a: Agency) -> None:
    raw, token = collector(session, agency_a)

    tokens.revoke(session, token.id, "admin")
    session.commit()

    assert tokens.verify(session, raw) is None


def test_it_refuses_revoking_twice(session: Session, agency_a: Agency) -> None:
    _, token = collector(session, agency_a)
    tokens.revoke(session, token.id, "admin")

    with pytest.raises(SocError, match="already revoked"):
        tokens.revoke(session, token.id, "admin")
    with pytest.raises(SocError, match="unknown token id 999"):
        tokens.revoke(session, 999, "admin")


def test_it_refuses_an_expired_token(session: Session, agency_a: Agency) -> None:
    expires_at = datetime(2026, 6, 1, tzinfo=UTC)
    raw, _ = collector(session, agency_a, expires_at=expires_at)

    assert tokens.verify(session, raw, now=expires_at - timedelta(seconds=1)) is not None
    assert tokens.verify(session, raw, now=expires_at) is None


def test_it_records_when_a_token_was_last_used(session: Session, agency_a: Agency) -> None:
    raw, token = collector(session, agency_a)
    now = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)

    tokens.verify(session, raw, now=now)
    tokens.verify(session, raw, now=now + timedelta(seconds=5))
    session.commit()

    session.expire_all()
    stored = session.get(ApiToken, token.id)
    assert stored is not None
    assert stored.last_used_at == now


def test_it_binds_a_collector_token_to_its_one_agency(
    session: Session, agency_a: Agency, agency_b: Agency
) -> None:
    raw_a, _ = collector(session, agency_a)
    raw_b, _ = collector(session, agency_b)

    info_a, info_b = tokens.verify(session, raw_a), tokens.verify(session, raw_b)

    assert info_a is not None
    assert info_a.agency_code == "stttt"
    assert info_b is not None
    assert info_b.agency_code == "syt"


def test_it_refuses_a_collector_token_without_agency(session: Session) -> None:
    with pytest.raises(SocError, match="collector token needs exactly one agency"):
        tokens.create(session, name="web01", kind="collector", actor="admin")


def test_it_database_refuses_a_collector_token_without_agency(session: Session) -> None:
    session.add(ApiToken(name="x", prefix="soc_abcd", token_hash="0" * 64, kind="collector", scopes=[]))

    with pytest.raises(IntegrityError):
        session.commit()


def test_it_makes_an_api_token_without_agency(session: Session) -> None:
    raw, _ = tokens.create(
        session, name="siem", kind="api", scopes=["alerts:read", "alerts:read"], actor="admin"
    )

    info = tokens.verify(session, raw)

    assert info is not None
    assert (info.kind, info.agency_code, info.scopes) == ("api", None, ("alerts:read",))


def test_it_refuses_an_unknown_kind_or_agency(session: Session) -> None:
    with pytest.raises(SocError, match="unknown token kind 'admin'"):
        tokens.create(session, name="x", kind="admin", actor="admin")
    with pytest.raises(SocError, match="unknown agency id 42"):
        tokens.create(session, name="x", kind="collector", agency_id=42, actor="admin")


def test_it_audits_token_create_and_revoke_without_the_secret(session: Session, agency_a: Agency) -> None:
    raw, token = collector(session, agency_a)
    tokens.revoke(session, token.id, "admin")
    session.commit()

    entries = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "api_token")).all()
    assert [(e.action, e.target_id, e.agency_id) for e in entries] == [
        ("token.create", str(token.id), agency_a.id),
        ("token.revoke", str(token.id), agency_a.id),
    ]
    assert all(raw not in str(e.detail) and token.token_hash not in str(e.detail) for e in entries)


def test_it_lists_tokens_with_and_without_revoked(session: Session, agency_a: Agency) -> None:
    _, first = collector(session, agency_a)
    _, second = collector(session, agency_a)
    tokens.revoke(session, first.id, "admin")

    assert [t.id for t in tokens.list_tokens(session)] == [first.id, second.id]
    assert [t.id for t in tokens.list_tokens(session, include_revoked=False)] == [second.id]
