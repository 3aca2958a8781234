"""Migrations, engines and timestamps on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from soc.db import migrate
from soc.db.models import Agency, Base
from soc.db.session import make_engine, normalize_url, safe_url, session_scope
from soc.errors import SocError


def test_it_reports_no_revision_for_an_empty_database(db_url: str) -> None:
    assert migrate.current(db_url) is None


def test_it_upgrades_an_empty_database_to_head(db_url: str) -> None:
    migrate.upgrade(db_url)

    assert migrate.current(db_url) == migrate.head()
    eng = make_engine(db_url)
    tables = set(inspect(eng).get_table_names())
    eng.dispose()
    assert {"agencies", "users", "role_grants", "api_tokens", "audit_entries"} <= tables


def test_it_has_no_difference_between_models_and_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)

    assert diff == []


def test_it_upgrades_an_up_to_date_database_without_change(engine: Engine, db_url: str) -> None:
    migrate.upgrade(db_url)

    assert migrate.current(db_url) == migrate.head()


def test_it_downgrades_to_empty_and_up_again(db_url: str) -> None:
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    assert migrate.current(db_url) is None

    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head()


def test_it_reports_an_unreachable_database_in_one_line() -> None:
    with pytest.raises(SocError, match="cannot read the schema revision") as caught:
        migrate.current("postgresql://soc:secret@127.0.0.1:1/soc")

    assert "secret" not in str(caught.value)


def test_it_points_plain_postgresql_urls_at_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert "hunter2" not in safe_url("postgresql://u:hunter2@h/db")


def test_it_turns_on_wal_and_foreign_keys_for_sqlite(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
    eng.dispose()


def test_it_returns_timestamps_as_utc_aware(engine: Engine) -> None:
    hanoi = timezone(timedelta(hours=7))
    with session_scope(engine) as s:
        s.add(Agency(code="stttt", name="Sở TT&TT", created_at=datetime(2026, 3, 1, 9, 30, tzinfo=hanoi)))

    with session_scope(engine) as s:
        agency = s.query(Agency).one()
        assert agency.created_at == datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
        assert agency.created_at.utcoffset() == timedelta(0)


def test_it_refuses_naive_timestamps(session: Session) -> None:
    session.add(Agency(code="stttt", name="x", created_at=datetime(2026, 3, 1, 9, 30)))

    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
