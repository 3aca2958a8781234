"""Alembic environment: runs on the connection soc.db.migrate hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from soc.db.models import Base

config = context.config
target_metadata = Base.metadata

if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run `soc db upgrade`")

connection = config.attributes["connection"]
# Batch mode lets ALTERs on SQLite become copy-and-swap; on PostgreSQL it is plain ALTER.
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
