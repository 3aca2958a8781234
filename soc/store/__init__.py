"""Where events live: one EventStore protocol, three backends (sqlite, opensearch, elasticsearch)."""

from __future__ import annotations

from soc.settings import Settings
from soc.store.base import EventStore, Hit, Page, Window, WriteResult, scan

__all__ = ["EventStore", "Hit", "Page", "Window", "WriteResult", "open_store", "scan"]


def open_store(settings: Settings) -> EventStore:
    """The store the settings name, schema ensured."""
    store: EventStore
    if settings.store == "sqlite":
        from soc.store.sqlite import SqliteStore

        store = SqliteStore(settings.resolved_store_path, prefix=settings.store_index_prefix)
    else:
        from soc.store.clients import connect
        from soc.store.search import SearchStore

        store = SearchStore(connect(settings), prefix=settings.store_index_prefix)
    store.ensure_schema()
    return store
