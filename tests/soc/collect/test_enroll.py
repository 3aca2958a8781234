"""Enrolment tokens: hashed at rest, single use, short-lived, never a bearer token; every step audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from soc.collect.enroll import EnrolmentRefused, issue, redeem
from soc.db import accounts, tokens
from soc.db.enrolment import EnrolmentToken
from soc.db.models import AuditEntry, utcnow
from soc.db.session import session_scope
from soc.errors import SocError


@pytest.fixture
def raw(engine: Engine) -> str:
    with session_scope(engine) as s:
        agency = accounts.add_agency(s, "so-a", "Sở A", actor="test")
        secret, _ = issue(s, agency, name="web01", actor="cli:op")
    return secret


def test_it_keeps_only_the_hash(engine: Engine, raw: str) -> None:
    with session_scope(engine) as s:
        row = s.scalars(select(EnrolmentToken)).one()
        assert row.token_hash == tokens.hash_token(raw)
        assert raw not in (row.prefix, row.token_hash)


def test_it_gives_a_collector_token_bound_to_the_agency_once(engine: Engine, raw: str) -> None:
    with session_scope(engine) as s:
        enrolled = redeem(s, raw, client="10.0.0.5", host="web01.so-a")
    with session_scope(engine) as s:
        info = tokens.verify(s, enrolled.token)
        assert info is not None
        assert (info.kind, info.agency_code) == ("collector", "so-a")
    with session_scope(engine) as s, pytest.raises(EnrolmentRefused, match="already used"):
        redeem(s, raw, client="10.0.0.6")


def test_it_refuses_an_expired_token(engine: Engine, raw: str) -> None:
    with session_scope(engine) as s, pytest.raises(EnrolmentRefused, match="expired"):
        redeem(s, raw, client="10.0.0.5", now=utcnow() + timedelta(hours=2))


def test_it_is_never_a_bearer_token(engine: Engine, raw: str) -> None:
    with session_scope(engine) as s:
        assert tokens.verify(s, raw) is None
    with session_scope(engine) as s, pytest.raises(EnrolmentRefused, match="not an enrolment token"):
        redeem(s, "soc_" + raw, client="x")


def test_it_refuses_a_lifetime_past_seven_days(engine: Engine) -> None:
    with session_scope(engine) as s:
        agency = accounts.add_agency(s, "so-b", "Sở B", actor="test")
        with pytest.raises(SocError, match="between 1 minute and 7 days"):
            issue(s, agency, name="x", actor="t", ttl=timedelta(days=8))


def test_it_audits_issue_and_redeem(engine: Engine, raw: str) -> None:
    with session_scope(engine) as s:
        redeem(s, raw, client="10.0.0.5")
    with session_scope(engine) as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [a for a in actions if a.startswith("enrolment.")] == ["enrolment.issue", "enrolment.redeem"]
    assert "token.create" in actions
