"""The app database: agencies, users and their roles, API tokens and the append-only audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("admin", "soc_analyst", "oncall", "agency_officer", "appraiser", "approver")
"""Every role a user can hold; only agency_officer must name an agency."""
ROLES_NEEDING_AGENCY = ("agency_officer",)
LOCALES = ("vi", "en")
TOKEN_KINDS = ("collector", "api")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back tz-aware in UTC.

    PostgreSQL keeps the zone (timestamptz); SQLite has no zone type, so values are stored as naive
    UTC and the zone is put back on read. Naive values are refused so local time never sneaks in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; timestamps must be tz-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    # Named constraints: Alembic batch mode on SQLite and later migrations need stable names.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    """Short stable code used in events and tokens, e.g. `stttt`."""
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("locale", LOCALES), name="locale"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(2), default="vi")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleGrant.id"
    )


class RoleGrant(Base):
    __tablename__ = "role_grants"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(
            f"NOT ({_in('role', ROLES_NEEDING_AGENCY)}) OR agency_id IS NOT NULL", name="agency_required"
        ),
        UniqueConstraint("user_id", "role", "agency_id"),
        # SQL treats NULLs as distinct, so the constraint above misses city-wide duplicates.
        Index(
            "uq_role_grants_user_id_role_citywide",
            "user_id",
            "role",
            unique=True,
            sqlite_where=text("agency_id IS NULL"),
            postgresql_where=text("agency_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants")
    agency: Mapped[Agency | None] = relationship()


class ApiToken(Base):
    """A bearer token for a collector (bound to one agency) or for the API.

    Only the SHA-256 of the raw token is stored. A slow hash (argon2) guards low-entropy secrets
    like passwords against guessing; these tokens are 32 random bytes, so a fast hash is already
    infeasible to invert and lets every request be checked with one indexed lookup.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(_in("kind", TOKEN_KINDS), name="kind"),
        CheckConstraint("kind <> 'collector' OR agency_id IS NOT NULL", name="collector_agency"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(8))
    """The first 8 characters of the raw token, shown in listings to tell tokens apart."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    agency: Mapped[Agency | None] = relationship()
    user: Mapped[User | None] = relationship()


class AuditEntry(Base):
    """One change, chained to the previous entry by hash. The database refuses UPDATE and DELETE.

    agency_id is a plain integer, not a foreign key: the log must outlive anything it mentions.
    prev_hash is unique so two writers racing for the same tail cannot fork the chain.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        # The audit page filters by action (or its prefix), by target and by actor, newest first.
        Index("ix_audit_entries_action_at", "action", "at"),
        Index("ix_audit_entries_target", "target_type", "target_id"),
        Index("ix_audit_entries_actor_at", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
