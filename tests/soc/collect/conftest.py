"""The app-database fixtures (SQLite and a real PostgreSQL per test) from tests/soc/db."""

from tests.soc.db.conftest import db_url, engine, postgres_admin_url, postgres_url  # noqa: F401
