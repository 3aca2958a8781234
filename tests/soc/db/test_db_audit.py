"""The audit log: hash chain, append-only triggers on both databases, tamper detection."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from soc.db import audit
from soc.db.models import AuditEntry


def write_three(session: Session) -> list[AuditEntry]:
    agency = {"code": "stttt", "name": "Sở Thông tin và Truyền thông"}
    user = {"username": "officer_a", "score": 1.5, "tags": ["a", "b"]}
    entries = [
        audit.record(
            session,
            actor="admin",
            action="agency.create",
            target_type="agency",
            target_id=1,
            agency_id=1,
            detail=agency,
        ),
        audit.record(
            session, actor="admin", action="user.create", target_type="user", target_id=7, detail=user
        ),
        audit.record(
            session, actor="cli:root", action="token.revoke", target_type="api_token", target_id="3"
        ),
    ]
    session.commit()
    return entries


def tamper(engine: Engine, statement: str) -> None:
    """Run a change the triggers refuse, with them out of the way (as an attacker with DDL rights)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(text("DROP TRIGGER audit_entries_no_delete"))
            conn.execute(text(statement))


def test_it_chains_each_entry_to_the_one_before(session: Session) -> None:
    first, second, third = write_three(session)

    assert first.prev_hash == audit.GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3


def test_it_verifies_an_intact_chain_after_a_round_trip(session: Session) -> None:
    write_three(session)
    session.expire_all()

    assert audit.verify_chain(session) == []
    assert audit.count(session) == 3


def test_it_verifies_an_empty_log(session: Session) -> None:
    assert audit.verify_chain(session) == []


def test_it_refuses_update_of_an_audit_entry(session: Session, engine: Engine) -> None:
    write_three(session)

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = 'someone else' WHERE id = 2"))


def test_it_refuses_delete_of_an_audit_entry(session: Session, engine: Engine) -> None:
    write_three(session)

    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries"))

    assert audit.count(session) == 3


def test_it_refuses_changes_through_the_orm_too(session: Session) -> None:
    entry = write_three(session)[0]
    entry.actor = "someone else"

    with pytest.raises(DBAPIError, match="append-only"):
        session.commit()


def test_it_detects_an_edited_entry(session: Session, engine: Engine) -> None:
    write_three(session)

    tamper(engine, "UPDATE audit_entries SET actor = 'someone else' WHERE id = 2")
    session.expire_all()

    assert audit.verify_chain(session) == ["audit entry 2: content does not match its hash (edited)"]


def test_it_detects_a_removed_entry(session: Session, engine: Engine) -> None:
    write_three(session)

    tamper(engine, "DELETE FROM audit_entries WHERE id = 2")
    session.expire_all()

    assert audit.verify_chain(session) == [
        "audit entry 3: does not follow the entry before it (gap or reorder)"
    ]


def test_it_lists_the_newest_entries_first(session: Session) -> None:
    write_three(session)

    assert [e.id for e in audit.latest(session, limit=2)] == [3, 2]
    assert [e.id for e in audit.latest(session, agency_id=1)] == [1]
    assert session.scalar(select(AuditEntry.detail).where(AuditEntry.id == 1)) == {
        "code": "stttt",
        "name": "Sở Thông tin và Truyền thông",
    }
