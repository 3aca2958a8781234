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
        from soc.store import periods
        from soc.store.clients import connect
        from soc.store.retention import Policy
        from soc.store.search import SearchStore

        retention = Policy.from_settings(settings)
        store = SearchStore(
            connect(settings), prefix=settings.store_index_prefix, replicas=settings.store_replicas,
            period=periods.chooser(settings.store_index_period, lambda slug: retention.days_for(slug)[0]),
            settings=settings, workers=settings.detect_workers,
        )  # fmt: skip
    store.ensure_schema()
    return store
