"""Agencies, users and role grants; the standard actors analyst, officer_a, officer_b, outsider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from soc.db import accounts, passwords
from soc.db.models import Agency, AuditEntry, RoleGrant, User
from soc.errors import SocError

PASSWORD = "correct horse battery"


def add(session: Session, username: str, roles: list[tuple[str, str | None]]) -> User:
    return accounts.add_user(
        session,
        username=username,
        password=PASSWORD,
        email=f"{username}@example.gov.vn",
        full_name=f"Nguyễn Văn {username}",
        roles=roles,
        actor="admin",
    )


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_it_adds_an_agency_with_a_vietnamese_name(session: Session) -> None:
    accounts.add_agency(session, "STTTT", "Sở Thông tin và Truyền thông", "admin")
    session.commit()

    found = accounts.get_agency_by_code(session, "stttt")
    assert found is not None
    assert found.name == "Sở Thông tin và Truyền thông"
    assert found.created_at.tzinfo is not None


def test_it_refuses_a_duplicate_agency_code(session: Session, agency_a: Agency) -> None:
    with pytest.raises(SocError, match="agency 'stttt' already exists"):
        accounts.add_agency(session, "stttt", "Khác", "admin")


def test_it_refuses_an_invalid_agency_code(session: Session) -> None:
    with pytest.raises(SocError, match="agency code 'sở' is not valid"):
        accounts.add_agency(session, "sở", "x", "admin")


def test_it_gives_the_standard_actors_their_roles(
    session: Session, agency_a: Agency, agency_b: Agency
) -> None:
    add(session, "analyst", [("soc_analyst", None), ("oncall", None)])
    add(session, "officer_a", [("agency_officer", "stttt")])
    add(session, "officer_b", [("agency_officer", "syt")])
    add(session, "outsider", [])
    session.commit()

    roles = {u.username: accounts.roles_of(u) for u in accounts.list_users(session)}
    assert roles == {
        "analyst": [("soc_analyst", None), ("oncall", None)],
        "officer_a": [("agency_officer", "stttt")],
        "officer_b": [("agency_officer", "syt")],
        "outsider": [],
    }


def test_it_stores_a_verifiable_password_hash(session: Session) -> None:
    user = add(session, "analyst", [])

    assert user.password_hash != PASSWORD
    assert passwords.verify(user.password_hash, PASSWORD)


def test_it_refuses_a_duplicate_username(session: Session) -> None:
    add(session, "analyst", [])

    with pytest.raises(SocError, match="user 'analyst' already exists"):
        add(session, "Analyst", [])


def test_it_refuses_an_agency_officer_without_agency(session: Session) -> None:
    with pytest.raises(SocError, match="role agency_officer needs an agency"):
        add(session, "officer_a", [("agency_officer", None)])

    assert accounts.get_user(session, "officer_a") is None


def test_it_refuses_an_unknown_role(session: Session) -> None:
    with pytest.raises(SocError, match="unknown role 'superuser'"):
        add(session, "analyst", [("superuser", None)])


def test_it_refuses_an_unknown_agency(session: Session) -> None:
    with pytest.raises(SocError, match="unknown agency 'nowhere'"):
        add(session, "officer_a", [("agency_officer", "nowhere")])


def test_it_refuses_a_short_password_for_a_new_user(session: Session) -> None:
    with pytest.raises(SocError, match="password is too short"):
        accounts.add_user(
            session, username="analyst", password="short", email="a@b.vn", full_name="A", actor="admin"
        )


def test_it_refuses_granting_the_same_role_twice(session: Session, agency_a: Agency) -> None:
    add(session, "officer_a", [("agency_officer", "stttt")])

    with pytest.raises(SocError, match="already holds role agency_officer:stttt"):
        accounts.grant_role(session, "officer_a", "agency_officer", "stttt", "admin")


def test_it_database_refuses_an_agency_officer_grant_without_agency(session: Session) -> None:
    user = add(session, "officer_a", [])
    session.commit()
    session.add(RoleGrant(user_id=user.id, role="agency_officer", agency_id=None))

    with pytest.raises(IntegrityError):
        session.commit()


def test_it_database_refuses_a_duplicate_citywide_grant(session: Session) -> None:
    user = add(session, "analyst", [("soc_analyst", None)])
    session.commit()
    session.add(RoleGrant(user_id=user.id, role="soc_analyst", agency_id=None))

    with pytest.raises(IntegrityError):
        session.commit()


def test_it_revokes_a_role(session: Session, agency_a: Agency) -> None:
    user = add(session, "officer_a", [("agency_officer", "stttt"), ("appraiser", None)])

    accounts.revoke_role(session, "officer_a", "agency_officer", "stttt", "admin")
    session.commit()

    assert accounts.roles_of(user) == [("appraiser", None)]
    assert session.scalars(select(RoleGrant)).all() == user.grants


def test_it_audits_every_account_change(session: Session) -> None:
    accounts.add_agency(session, "stttt", "Sở TT&TT", "admin")
    add(session, "officer_a", [("agency_officer", "stttt"), ("approver", None)])
    accounts.revoke_role(session, "officer_a", "approver", None, "admin")
    accounts.set_password(session, "officer_a", "another long password", "admin")
    accounts.set_active(session, "officer_a", False, "admin")
    session.commit()

    assert actions(session) == [
        "agency.create",
        "user.create",
        "role.grant",
        "role.grant",
        "role.revoke",
        "user.set_password",
        "user.deactivate",
    ]
    grant = session.scalars(select(AuditEntry).where(AuditEntry.action == "role.grant")).first()
    assert grant is not None
    assert grant.actor == "admin"
    assert grant.detail == {"role": "agency_officer", "agency": "stttt"}


def test_it_authenticates_with_the_right_password_only(session: Session) -> None:
    add(session, "analyst", [])

    assert accounts.authenticate(session, "analyst", PASSWORD) is not None
    assert accounts.authenticate(session, "analyst", "wrong password!") is None
    assert accounts.authenticate(session, "stranger", PASSWORD) is None


def test_it_locks_an_account_after_repeated_failures(session: Session) -> None:
    add(session, "analyst", [])
    now = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

    for _ in range(accounts.MAX_FAILED_LOGINS):
        assert accounts.authenticate(session, "analyst", "wrong password!", now=now) is None

    assert accounts.authenticate(session, "analyst", PASSWORD, now=now) is None
    later = now + accounts.LOCK_DURATION + timedelta(seconds=1)
    assert accounts.authenticate(session, "analyst", PASSWORD, now=later) is not None
    assert "user.lock" in actions(session)


def test_it_refuses_a_deactivated_user(session: Session) -> None:
    add(session, "analyst", [])
    accounts.set_active(session, "analyst", False, "admin")

    assert accounts.authenticate(session, "analyst", PASSWORD) is None


@pytest.mark.parametrize("role", ["admin", "soc_analyst"])
def test_it_refuses_to_scope_a_city_wide_role_to_one_agency(session: Session, role: str) -> None:
    accounts.add_agency(session, "so-a", "Sở A", actor="test")
    with pytest.raises(SocError, match="city-wide"):
        accounts.add_user(
            session, username="x.y", password="correct horse battery", email="x@y.vn",
            full_name="X Y", roles=[(role, "so-a")], actor="test",
        )  # fmt: skip
