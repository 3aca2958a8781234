"""Event search service: filters to queries, agency scope on every read, paging, timeline buckets,
CSV export with its cap and formula neutralisation."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from soc.store.query import And, Cidr, Not, Range, Term, Wildcard
from soc.store.sqlite import SqliteStore
from soc.triage import events as svc
from soc.triage.principal import Forbidden, Principal

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
ANALYST = Principal("analyst", 1, frozenset({"soc_analyst"}), None)
OFFICER_A = Principal("officer_a", 2, frozenset({"agency_officer"}), frozenset({"so-a"}))
APPRAISER = Principal("appraiser", 3, frozenset({"appraiser"}), frozenset())


def event(n: int, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": (T0 + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": f"Failed password for root #{n}",
        "event": {"dataset": "system.auth", "outcome": "failure"},
        "host": {"name": f"web{n % 2}"},
        "user": {"name": "root"},
        "source": {"ip": "203.0.113.9"},
    }
    doc.update(fields)
    return doc


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "events.db")
    s.ensure_schema()
    s.write([event(n) for n in range(20)], agency="so-a")
    s.write([event(n, message=f"secret of b #{n}") for n in range(5)], agency="so-b")
    yield s
    s.close()


def texts(page: svc.EventPage) -> list[str]:
    return [r.text for r in page.rows]


def test_it_turns_filters_into_one_query() -> None:
    f = svc.make_filter(
        zone=ZONE, text="Fail*ed", start="2026-11-27T08:00", end="2026-11-27T09:00",
        conditions=["event.action=ssh_login\nhost.name=web*", "source.ip=10.0.0.0/8",
                    "event.outcome!=success"],
        shortcuts={"user": "root"},
    )  # fmt: skip
    query = svc.build_query(f)
    assert isinstance(query, And)
    assert query.items == (
        Term("user.name", "root"),
        Term("event.action", "ssh_login"),
        Wildcard("host.name", "web*"),
        Cidr("source.ip", "10.0.0.0/8"),
        Not(Term("event.outcome", "success")),
        Wildcard("message", "*Fail\\*ed*"),
        Range("@timestamp", gte="2026-11-27T01:00:00.000Z", lt="2026-11-27T02:00:00.000Z"),
    )


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"conditions": ["no equals sign"]}, "events.error.condition"),
        ({"conditions": ["bad name!?=x"]}, "events.error.condition"),
        ({"start": "yesterday"}, "events.error.time"),
        ({"start": "2026-11-27T09:00", "end": "2026-11-27T08:00"}, "events.error.range"),
        ({"conditions": ["source.ip=not-an-ip"]}, "events.error.query"),
        ({"conditions": ["source.port=abc"]}, "events.error.query"),
        ({"conditions": ["event.original=x"]}, "events.error.query"),
        ({"conditions": [f"f{i}=x" for i in range(21)]}, "events.error.too_many"),
    ],
)
def test_it_refuses_bad_filters_with_a_translatable_reason(kw: dict[str, Any], key: str) -> None:
    with pytest.raises(svc.FilterError) as refused:
        svc.make_filter(zone=ZONE, **kw)
    assert refused.value.key == key


def test_free_text_is_a_case_insensitive_substring_of_the_message(store: SqliteStore) -> None:
    f = svc.make_filter(zone=ZONE, text="PASSWORD FOR ROOT #1")
    found = texts(svc.search(store, ANALYST, f))
    assert sorted(found) == ["Failed password for root #1"] + [
        f"Failed password for root #{n}" for n in range(10, 20)
    ]


def test_an_agency_officer_never_reads_another_agency(store: SqliteStore) -> None:
    for f in (
        svc.make_filter(zone=ZONE),
        svc.make_filter(zone=ZONE, agencies=["so-b"]),
        svc.make_filter(zone=ZONE, conditions=["organization.id=so-b"]),
        svc.make_filter(zone=ZONE, text="secret"),
    ):
        assert not any("secret" in t for t in texts(svc.search(store, OFFICER_A, f, size=100)))
        assert svc.timeline(store, OFFICER_A, f, ZONE).total == svc.count(store, OFFICER_A, f)
        lines = "".join(svc.csv_lines(store, OFFICER_A, f, ZONE))
        assert "secret" not in lines
        assert "so-b" not in lines
    assert svc.count(store, OFFICER_A, svc.make_filter(zone=ZONE, text="secret")) == 0
    assert svc.count(store, OFFICER_A, svc.make_filter(zone=ZONE)) == 20
    assert svc.count(store, ANALYST, svc.make_filter(zone=ZONE)) == 25
    assert svc.count(store, ANALYST, svc.make_filter(zone=ZONE, agencies=["so-b"])) == 5


def test_who_may_not_read_events_is_refused(store: SqliteStore) -> None:
    with pytest.raises(Forbidden):
        svc.search(store, APPRAISER, svc.make_filter(zone=ZONE))


def test_pages_cover_every_event_once(store: SqliteStore) -> None:
    f = svc.make_filter(zone=ZONE)
    seen: list[str] = []
    after = None
    while True:
        page = svc.search(store, OFFICER_A, f, size=6, after=after)
        seen += [r.id for r in page.rows]
        if page.next is None:
            break
        after = page.next
    assert len(seen) == len(set(seen)) == 20


def test_a_forged_page_position_is_refused(store: SqliteStore) -> None:
    with pytest.raises(svc.FilterError):
        svc.search(store, ANALYST, svc.make_filter(zone=ZONE), after="nonsense")


def test_local_times_bound_the_timestamp(store: SqliteStore) -> None:
    # 08:05 to 08:10 in Asia/Ho_Chi_Minh is 01:05 to 01:10 UTC: events 5 to 9.
    f = svc.make_filter(zone=ZONE, start="2026-11-27T08:05", end="2026-11-27T08:10")
    assert sorted(r.text for r in svc.search(store, OFFICER_A, f).rows) == [
        f"Failed password for root #{n}" for n in range(5, 10)
    ]


def test_the_timeline_counts_every_bucket_and_keeps_empty_ones(store: SqliteStore) -> None:
    f = svc.make_filter(zone=ZONE, start="2026-11-27T07:50", end="2026-11-27T08:30")
    tl = svc.timeline(store, OFFICER_A, f, ZONE)
    assert tl.step == timedelta(minutes=1)
    assert len(tl.buckets) == 40
    assert tl.buckets[0].start == datetime(2026, 11, 27, 0, 50, tzinfo=UTC)
    assert [b.count for b in tl.buckets[:12]] == [0] * 10 + [1, 1]
    assert tl.total == sum(b.count for b in tl.buckets) == 20


def test_csv_neutralises_formulas() -> None:
    assert [svc.neutralise(c) for c in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "ok", "")] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "ok", "",
    ]  # fmt: skip


def test_the_csv_export_stops_at_its_cap_with_a_note(store: SqliteStore) -> None:
    store.write([event(99, message='=HYPERLINK("http://evil")')], agency="so-a")
    lines = list(
        svc.csv_lines(store, OFFICER_A, svc.make_filter(zone=ZONE), ZONE, cap=5, truncated_note="stopped")
    )
    assert len(lines) == 1 + 5 + 1
    assert lines[-1].strip() == "stopped"
    everything = list(
        csv.reader(io.StringIO("".join(svc.csv_lines(store, OFFICER_A, svc.make_filter(zone=ZONE), ZONE))))
    )
    assert everything[0][:3] == ["@timestamp", "local_time", "organization.id"]
    assert len(everything) == 22
    evil = next(row for row in everything if "HYPERLINK" in row[8])
    assert evil[8].startswith("'=")
    assert evil[1].endswith("+07:00")
