"""The EventStore protocol every backend implements, and the values it passes around."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from soc.store.query import Query

Agencies = Collection[str] | None
"""Which agencies a read may see: a collection of `organization.id`s, or None for all (city SOC)."""

Cursor = tuple[int, str]
"""Position after a hit: (event.ingested in epoch ms, event.hash). Sort order is the same."""


@dataclass(frozen=True)
class Window:
    """A half-open range [start, end) of `event.ingested`, UTC-aware."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class DocError:
    position: int
    """Index of the document in the batch given to write()."""
    reason: str
    id: str | None = None


@dataclass
class WriteResult:
    ids: list[str | None] = field(default_factory=list)
    """Per input document: its id, or None when it was rejected."""
    created: int = 0
    duplicates: int = 0
    """Documents already stored under the same id (a re-sent batch): not written twice."""
    errors: list[DocError] = field(default_factory=list)
    """Rejected documents. Each one is also kept in the store's quarantine, never dropped."""

    @property
    def accepted(self) -> int:
        return self.created + self.duplicates


@dataclass(frozen=True)
class Hit:
    id: str
    index: str
    source: dict[str, Any]
    cursor: Cursor


@dataclass(frozen=True)
class Partition:
    """One partition of one dataset: an index on the engines (a day, week or month of one agency's
    dataset, see periods.py), a (slug, day) on SQLite."""

    slug: str
    """`ecs.dataset_slug` of the dataset."""
    day: date
    """The first day it covers."""
    name: str
    """Index name (SQLite: the daily name the engines would use)."""
    agency: str = ""
    """As in the index name (`prepare.agency_part`)."""
    last: date | None = None
    """The last day it covers (None: the same as `day`). Retention drops it once this expired."""

    @property
    def until(self) -> date:
        return self.last or self.day


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    next: Cursor | None
    """Pass as `after` to get the next page; None when this page is the last."""


class EventStore(Protocol):
    backend: str

    def ensure_schema(self) -> None:
        """Create the index template / tables. Idempotent."""

    def write(
        self, docs: Sequence[Mapping[str, Any]], *, agency: str, now: datetime | None = None
    ) -> WriteResult:
        """Store documents for one agency; `organization.id` is always set to `agency`."""

    def search(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
        size: int = 1000,
        after: Cursor | None = None,
    ) -> Page:
        """One page of matching events in (event.ingested, event.hash) order."""

    def read_all(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> list[Hit]:
        """Every matching hit in `search` order, never truncated: what `scan` gives, read in one
        go (the engines scroll, so the query is evaluated once instead of once per page)."""

    def search_many(
        self, requests: Sequence[tuple[Query, Collection[str] | None, Window]], *, agencies: Agencies
    ) -> list[list[Hit]]:
        """Every hit of each (query, datasets, window), each list in `search` order, never
        truncated: what `scan` gives per request, answered as one batch (a detection cycle)."""

    def count(
        self,
        query: Query,
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> int: ...

    def group_counts(
        self,
        query: Query,
        fields: Sequence[str],
        *,
        agencies: Agencies,
        window: Window | None = None,
        datasets: Collection[str] | None = None,
    ) -> dict[tuple[Any, ...], int]:
        """Count matching events per combination of values of `fields` (all buckets, never cut).

        An event lacking one of the fields is not counted; an array counts once per value.
        """

    def partitions(self) -> list[Partition]:
        """Every daily event partition, sorted by name (what retention looks at)."""

    def delete_before(self, dataset: str, before: date) -> int:
        """Retention: drop the partitions of `dataset` whose last day is before `before` (an index
        that still holds a kept day stays whole). Returns events (SQLite) or indices (engines)
        removed."""

    def rejected(self, *, agencies: Agencies, limit: int = 100) -> list[dict[str, Any]]:
        """Quarantined documents, newest first: reason, agency, original JSON."""

    def refresh(self) -> None:
        """Make everything written so far visible to search (engines are near-real-time)."""

    def health(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def scan(
    store: EventStore,
    query: Query,
    *,
    agencies: Agencies,
    window: Window | None = None,
    datasets: Collection[str] | None = None,
    page_size: int = 1000,
) -> Iterator[Hit]:
    """Every matching hit, page after page; never truncated."""
    after: Cursor | None = None
    while True:
        page = store.search(
            query, agencies=agencies, window=window, datasets=datasets, size=page_size, after=after
        )
        yield from page.hits
        if page.next is None:
            return
        after = page.next
