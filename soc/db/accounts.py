"""Agencies, users and their roles. Every change writes an audit entry in the same transaction."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from soc.db import audit, passwords
from soc.db.models import LOCALES, ROLES, ROLES_NEEDING_AGENCY, Agency, RoleGrant, User, utcnow
from soc.errors import SocError

AGENCY_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)


def add_agency(session: Session, code: str, name: str, actor: str) -> Agency:
    code = code.strip().lower()
    name = name.strip()
    if not AGENCY_CODE.match(code):
        raise SocError(f"agency code '{code}' is not valid: use 2-32 of a-z, 0-9, '-' or '_'")
    if not name:
        raise SocError("agency name must not be empty")
    if get_agency_by_code(session, code) is not None:
        raise SocError(f"agency '{code}' already exists")
    agency = Agency(code=code, name=name)
    session.add(agency)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="agency.create",
        target_type="agency",
        target_id=agency.id,
        agency_id=agency.id,
        detail={"code": code, "name": name},
    )
    return agency


def get_agency_by_code(session: Session, code: str) -> Agency | None:
    return session.scalar(select(Agency).where(Agency.code == code.strip().lower()))


def require_agency(session: Session, code: str) -> Agency:
    agency = get_agency_by_code(session, code)
    if agency is None:
        raise SocError(f"unknown agency '{code}'")
    return agency


def list_agencies(session: Session) -> list[Agency]:
    return list(session.scalars(select(Agency).order_by(Agency.code)))


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    email: str,
    full_name: str,
    locale: str = "vi",
    roles: Iterable[tuple[str, str | None]] = (),
    actor: str,
) -> User:
    """Create a user with the given (role, agency code or None) grants; all or nothing."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise SocError(f"username '{username}' is not valid: use 2-64 of a-z, 0-9, '.', '-' or '_'")
    if get_user(session, username) is not None:
        raise SocError(f"user '{username}' already exists")
    email = email.strip()
    if "@" not in email.strip("@"):
        raise SocError(f"email '{email}' is not an e-mail address")
    if not full_name.strip():
        raise SocError("full name must not be empty")
    if locale not in LOCALES:
        raise SocError(f"locale '{locale}' is not supported (expected one of {', '.join(LOCALES)})")
    wanted = [(role, _grant_agency(session, role, code)) for role, code in roles]
    user = User(
        username=username,
        email=email,
        full_name=full_name.strip(),
        locale=locale,
        password_hash=passwords.hash(password),
        is_active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        detail={"username": username, "email": email, "full_name": user.full_name, "locale": locale},
    )
    for role, agency in wanted:
        _grant(session, user, role, agency, actor)
    return user


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def require_user(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise SocError(f"unknown user '{username}'")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def roles_of(user: User) -> list[tuple[str, str | None]]:
    """The user's grants as (role, agency code or None for city-wide)."""
    return [(g.role, g.agency.code if g.agency else None) for g in user.grants]


def grant_role(session: Session, username: str, role: str, agency_code: str | None, actor: str) -> RoleGrant:
    user = require_user(session, username)
    return _grant(session, user, role, _grant_agency(session, role, agency_code), actor)


def revoke_role(session: Session, username: str, role: str, agency_code: str | None, actor: str) -> None:
    user = require_user(session, username)
    agency = require_agency(session, agency_code) if agency_code else None
    for grant in user.grants:
        if grant.role == role and grant.agency_id == (agency.id if agency else None):
            user.grants.remove(grant)
            session.flush()
            audit.record(
                session,
                actor=actor,
                action="role.revoke",
                target_type="user",
                target_id=user.id,
                agency_id=grant.agency_id,
                detail={"role": role, "agency": agency_code},
            )
            return
    raise SocError(f"user '{user.username}' does not hold role {_role_label(role, agency_code)}")


def set_password(session: Session, username: str, password: str, actor: str) -> None:
    user = require_user(session, username)
    user.password_hash = passwords.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    audit.record(session, actor=actor, action="user.set_password", target_type="user", target_id=user.id)


def set_active(session: Session, username: str, active: bool, actor: str) -> None:
    user = require_user(session, username)
    user.is_active = active
    session.flush()
    action = "user.activate" if active else "user.deactivate"
    audit.record(session, actor=actor, action=action, target_type="user", target_id=user.id)


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> User | None:
    """The user when the password is right and the account usable; counts failures and locks.

    After MAX_FAILED_LOGINS wrong passwords in a row the account is locked for LOCK_DURATION.
    """
    now = now or utcnow()
    user = get_user(session, username)
    if user is None or not user.is_active or (user.locked_until is not None and user.locked_until > now):
        passwords.burn(password)
        return None
    if not passwords.verify(user.password_hash, password):
        # Counted in SQL, not read-modify-write, so parallel wrong guesses cannot undercount.
        session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
        session.refresh(user, ["failed_logins"])
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCK_DURATION
            user.failed_logins = 0
            audit.record(
                session,
                actor="system",
                action="user.lock",
                target_type="user",
                target_id=user.id,
                detail={"until": user.locked_until.isoformat(), "reason": "too many failed logins"},
            )
        session.flush()
        return None
    user.failed_logins = 0
    user.locked_until = None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    session.flush()
    return user


CITY_WIDE_ROLES = ("admin", "soc_analyst")


def _grant_agency(session: Session, role: str, agency_code: str | None) -> Agency | None:
    if role not in ROLES:
        raise SocError(f"unknown role '{role}' (expected one of {', '.join(ROLES)})")
    if role in ROLES_NEEDING_AGENCY and not agency_code:
        raise SocError(f"role {role} needs an agency: use {role}:AGENCY_CODE")
    if role in CITY_WIDE_ROLES and agency_code:
        # Access checks treat these roles as city-wide; an agency scope would be silently ignored.
        raise SocError(f"role {role} is city-wide and cannot be limited to an agency: use {role}")
    return require_agency(session, agency_code) if agency_code else None


def _grant(session: Session, user: User, role: str, agency: Agency | None, actor: str) -> RoleGrant:
    code = agency.code if agency else None
    if any(g.role == role and g.agency_id == (agency.id if agency else None) for g in user.grants):
        raise SocError(f"user '{user.username}' already holds role {_role_label(role, code)}")
    grant = RoleGrant(role=role, agency=agency)
    user.grants.append(grant)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="role.grant",
        target_type="user",
        target_id=user.id,
        agency_id=agency.id if agency else None,
        detail={"role": role, "agency": code},
    )
    return grant


def _role_label(role: str, agency_code: str | None) -> str:
    return f"{role}:{agency_code}" if agency_code else f"{role} (city-wide)"
