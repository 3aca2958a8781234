"""The behaviour suite: every case runs on every backend and must give the same answer.

Expected results are written out literally, so a backend that differs from the others fails here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from soc.errors import QueryError
from soc.store.base import EventStore, Window, WriteResult, scan
from soc.store.query import And, Cidr, Exists, MatchAll, Not, Or, Query, Range, Regex, Term, Wildcard

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def put(
    store: EventStore, docs: Sequence[Mapping[str, Any]], agency: str = "a", now: datetime = T0
) -> WriteResult:
    result = store.write(docs, agency=agency, now=now)
    store.refresh()
    return result


def event(n: int, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": f"2026-11-27T02:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "event": {"dataset": "system.auth"},
        "log": {"offset": n},
    }
    doc.update(fields)
    return doc


def messages(store: EventStore, query: Query, **kw: Any) -> list[str]:
    hits = scan(store, query, agencies=kw.pop("agencies", None), **kw)
    return sorted(str(h.source.get("message")) for h in hits)


def test_it_stores_a_resent_batch_once(store: EventStore) -> None:
    docs = [event(i, message=f"m{i}") for i in range(50)]
    first = put(store, docs)
    again = put(store, docs, now=T0 + timedelta(minutes=5))
    assert (first.created, first.duplicates) == (50, 0)
    assert (again.created, again.duplicates) == (0, 50)
    assert again.ids == first.ids
    assert store.count(MatchAll(), agencies=None) == 50


def test_it_sets_agency_hash_and_ingest_time_on_the_store_side(store: EventStore) -> None:
    forged = event(1, message="x", organization={"id": "other"}, **{"event.ingested": "1999-01-01T00:00:00Z"})
    [doc_id] = put(store, [forged], agency="a").ids
    [hit] = list(scan(store, MatchAll(), agencies=None))
    assert hit.id == doc_id
    assert hit.source["organization"]["id"] == "a"
    assert hit.source["event"]["ingested"] == "2026-11-27T03:00:00.000Z"
    assert hit.source["event"]["hash"] == doc_id
    assert store.count(MatchAll(), agencies=["other"]) == 0


def test_it_gives_dotted_and_nested_input_the_same_id_and_source(store: EventStore) -> None:
    nested = put(store, [event(1, source={"ip": "10.0.0.1"}, message="n")], agency="a")
    dotted = put(store, [event(1, **{"source.ip": "10.0.0.1"}, message="n")], agency="a")
    assert dotted.ids == nested.ids
    assert dotted.duplicates == 1


def test_it_selects_by_ingest_time_so_late_events_are_seen(store: EventStore) -> None:
    put(store, [event(1, message="on time")], now=T0)
    late = event(2, message="late", **{"@timestamp": "2026-11-20T00:00:00Z"})
    put(store, [late], now=T0 + timedelta(minutes=10))
    put(store, [event(3, message="next window")], now=T0 + timedelta(minutes=20))
    window = Window(T0 + timedelta(minutes=5), T0 + timedelta(minutes=20))
    assert messages(store, MatchAll(), window=window) == ["late"]
    assert store.count(MatchAll(), agencies=None, window=window) == 1
    edge = Window(T0, T0 + timedelta(milliseconds=1))
    assert messages(store, MatchAll(), window=edge) == ["on time"]


def test_it_pages_past_ten_thousand_hits_without_loss_or_repeat(store: EventStore) -> None:
    docs = [event(i, message=f"m{i:05d}") for i in range(10_500)]
    put(store, docs[:6000], now=T0)
    put(store, docs[6000:], now=T0 + timedelta(seconds=1))
    seen = [h.id for h in scan(store, MatchAll(), agencies=None, page_size=2500)]
    assert len(seen) == 10_500
    assert len(set(seen)) == 10_500
    assert store.count(MatchAll(), agencies=None) == 10_500
    cursors = [h.cursor for h in scan(store, MatchAll(), agencies=None, page_size=4000)]
    assert cursors == sorted(cursors)


def test_it_matches_text_case_insensitively_unless_cased(store: EventStore) -> None:
    put(store, [event(1, user={"name": "Root"}, message="a"), event(2, user={"name": "admin"}, message="b")])
    assert messages(store, Term("user.name", "ROOT")) == ["a"]
    assert messages(store, Term("user.name", "root", cased=True)) == []
    assert messages(store, Term("user.name", "Root", cased=True)) == ["a"]


def test_it_matches_wildcards_on_the_whole_value(store: EventStore) -> None:
    put(
        store,
        [
            event(1, message="Failed password for root from 10.0.0.1"),
            event(2, message="Accepted password for alice"),
            event(3, message="literal * star"),
        ],
    )
    assert messages(store, Wildcard("message", "*PASSWORD for*")) == [
        "Accepted password for alice",
        "Failed password for root from 10.0.0.1",
    ]
    assert messages(store, Wildcard("message", "failed*")) == ["Failed password for root from 10.0.0.1"]
    assert messages(store, Wildcard("message", "password*")) == []
    assert messages(store, Wildcard("message", "literal ? star")) == ["literal * star"]
    assert messages(store, Wildcard("message", "*\\**")) == ["literal * star"]
    assert messages(store, Wildcard("message", "failed*", cased=True)) == []


def test_it_matches_cidr_for_ipv4_and_ipv6(store: EventStore) -> None:
    put(
        store,
        [
            event(1, source={"ip": "10.1.2.3"}, message="v4 inside"),
            event(2, source={"ip": "192.168.1.1"}, message="v4 outside"),
            event(3, source={"ip": "2001:db8::1"}, message="v6 inside"),
            event(4, source={"ip": "2001:db9::1"}, message="v6 outside"),
        ],
    )
    assert messages(store, Cidr("source.ip", "10.0.0.0/8")) == ["v4 inside"]
    assert messages(store, Cidr("source.ip", "2001:db8::/32")) == ["v6 inside"]
    assert messages(store, Term("source.ip", "2001:0db8:0000::0001")) == ["v6 inside"]
    assert messages(store, Not(Cidr("source.ip", "10.0.0.0/8"))) == ["v4 outside", "v6 inside", "v6 outside"]


def test_it_treats_missing_and_null_fields_alike(store: EventStore) -> None:
    put(
        store,
        [
            event(1, message="has user", user={"name": "bob"}),
            event(2, message="null user", user={"name": None}),
            event(3, message="no user"),
            event(4, message="empty user", user={"name": ""}),
            event(5, message="empty list", tags=[]),
        ],
    )
    assert messages(store, Exists("user.name")) == ["empty user", "has user"]
    assert messages(store, Not(Exists("user.name"))) == ["empty list", "no user", "null user"]
    assert messages(store, Term("user.name", "")) == ["empty user"]
    assert messages(store, Exists("tags")) == []


def test_it_matches_any_element_of_an_array(store: EventStore) -> None:
    put(
        store,
        [
            event(
                1, message="tagged", tags=["ssh", "Brute-Force"], related={"ip": ["10.0.0.1", "2001:db8::5"]}
            ),
            event(2, message="other", tags=["web"]),
        ],
    )
    assert messages(store, Term("tags", "brute-force")) == ["tagged"]
    assert messages(store, Cidr("related.ip", "2001:db8::/64")) == ["tagged"]
    assert messages(store, And((Term("tags", "ssh"), Term("tags", "web")))) == []
    assert messages(store, Or((Term("tags", "ssh"), Term("tags", "web")))) == ["other", "tagged"]


def test_it_matches_vietnamese_text_in_any_case(store: EventStore) -> None:
    put(
        store,
        [
            event(1, message="Đăng nhập thất bại cho người dùng quản trị", user={"name": "Nguyễn Văn Đức"}),
            event(2, message="Đăng xuất", user={"name": "Trần Thị Ánh"}),
        ],
    )
    assert messages(store, Term("user.name", "NGUYỄN VĂN ĐỨC")) == [
        "Đăng nhập thất bại cho người dùng quản trị"
    ]
    assert messages(store, Wildcard("message", "*THẤT BẠI*")) == [
        "Đăng nhập thất bại cho người dùng quản trị"
    ]
    assert messages(store, Wildcard("message", "đăng*")) == [
        "Đăng nhập thất bại cho người dùng quản trị",
        "Đăng xuất",
    ]
    [hit] = list(scan(store, Term("user.name", "trần thị ánh"), agencies=None))
    assert hit.source["user"]["name"] == "Trần Thị Ánh"


def test_it_keeps_oversized_values_stored_but_unsearchable(store: EventStore) -> None:
    huge = "Á" * 200_000
    result = put(store, [event(1, message=huge, user={"name": "big"}), event(2, message="small")])
    assert result.created == 2
    [hit] = list(scan(store, Term("user.name", "big"), agencies=None))
    assert hit.source["message"] == huge
    assert messages(store, Wildcard("message", "Á*")) == []
    assert messages(store, Wildcard("message", "*")) == ["small"]


def test_it_compares_numbers_and_dates_by_value(store: EventStore) -> None:
    put(
        store,
        [
            event(1, message="ssh", destination={"port": 22}, http={"response": {"status_code": "503"}}),
            event(2, message="web", destination={"port": "443"}, labels={"code": 500}),
        ],
    )
    assert messages(store, Term("destination.port", "22")) == ["ssh"]
    assert messages(store, Range("destination.port", gte=100)) == ["web"]
    assert messages(store, Range("http.response.status_code", gte=500, lt=600)) == ["ssh"]
    assert messages(store, Term("labels.code", "500")) == ["web"]
    assert messages(store, Range("@timestamp", gte="2026-11-27T02:00:02Z")) == ["web"]


def test_it_rejects_bad_documents_one_by_one_and_keeps_them(store: EventStore) -> None:
    docs: list[Any] = [
        event(1, message="good"),
        event(2, message="bad ip", source={"ip": "10.0.0.999"}),
        {"message": "no timestamp"},
        event(4, message="bad port", destination={"port": "http"}),
        "not an object",
        event(6, **{"a": 1, "a.b": 2}),
        event(7, message="good too"),
    ]
    result = put(store, docs)
    assert result.created == 2
    assert [e.position for e in result.errors] == [1, 2, 3, 4, 5]
    assert result.ids[0] is not None
    assert result.ids[1] is None
    assert "10.0.0.999" in result.errors[0].reason
    assert "@timestamp" in result.errors[1].reason
    kept = store.rejected(agencies=["a"])
    assert len(kept) == 5
    assert any("no timestamp" in str(r["original"]) for r in kept)
    assert store.rejected(agencies=["b"]) == []
    assert messages(store, MatchAll()) == ["good", "good too"]


def test_it_answers_many_queries_at_once_like_one_scan_each(store: EventStore) -> None:
    put(store, [event(i, message=f"m{i}", user={"name": "root" if i % 2 else "admin"}) for i in range(2300)])
    put(
        store,
        [event(i, message=f"late{i}", user={"name": "ROOT"}) for i in range(3)],
        now=T0 + timedelta(hours=1),
    )
    early, both = Window(T0, T0 + timedelta(minutes=1)), Window(T0, T0 + timedelta(hours=2))
    requests: list[tuple[Query, Any, Window]] = [
        (Term("user.name", "root"), None, early),
        (Term("user.name", "root"), ["system.auth"], both),
        (Term("user.name", "admin"), ["network.dns"], both),
        (MatchAll(), None, Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))),
    ]
    answers = store.search_many(requests, agencies=["a"])
    expected = [list(scan(store, q, agencies=["a"], window=w, datasets=d)) for q, d, w in requests]
    assert [[h.id for h in hits] for hits in answers] == [[h.id for h in hits] for hits in expected]
    assert [len(hits) for hits in answers] == [1150, 1153, 0, 3]
    assert answers[0][0].source == expected[0][0].source


def test_it_counts_groups_of_values_without_truncation(store: EventStore) -> None:
    docs = [
        event(i, user={"name": f"u{i % 1500}"}, source={"ip": "10.0.0.1" if i % 2 else "2001:db8::1"})
        for i in range(3000)
    ]
    docs.append(event(5000, message="no user", source={"ip": "10.0.0.9"}))
    docs.append(event(5001, user={"name": ["x", "y"]}, destination={"port": 22}))
    put(store, docs)
    by_user = store.group_counts(MatchAll(), ["user.name"], agencies=None)
    assert len(by_user) == 1502
    assert by_user[("u7",)] == 2
    assert by_user[("x",)] == by_user[("y",)] == 1
    pairs = store.group_counts(Exists("user.name"), ["source.ip", "user.name"], agencies=None)
    assert pairs[("10.0.0.1", "u1")] == 2
    assert pairs[("2001:db8::1", "u0")] == 2
    assert len(pairs) == 1500
    ports = store.group_counts(MatchAll(), ["destination.port"], agencies=None)
    assert ports == {(22,): 1}


def test_it_scopes_every_read_to_the_given_agencies(store: EventStore) -> None:
    put(store, [event(1, message="from a")], agency="a")
    put(store, [event(1, message="from b")], agency="b")
    assert messages(store, MatchAll(), agencies=["a"]) == ["from a"]
    assert messages(store, MatchAll(), agencies=["a", "b"]) == ["from a", "from b"]
    assert messages(store, MatchAll(), agencies=[]) == []
    assert store.count(MatchAll(), agencies=["b"]) == 1
    assert store.group_counts(MatchAll(), ["organization.id"], agencies=["b"]) == {("b",): 1}


def test_it_filters_by_dataset(store: EventStore) -> None:
    web = event(2, message="web", event={"dataset": "nginx.access"})
    put(store, [event(1, message="auth"), web])
    assert messages(store, MatchAll(), datasets=["nginx.access"]) == ["web"]
    assert messages(store, MatchAll(), datasets=["system.auth", "nginx.access"]) == ["auth", "web"]


def test_it_drops_old_daily_partitions_for_retention(store: EventStore) -> None:
    old = event(1, message="old", **{"@timestamp": "2026-08-01T00:00:00Z"})
    new = event(2, message="new")
    other = event(
        3,
        message="other dataset",
        event={"dataset": "nginx.access"},
        **{"@timestamp": "2026-08-01T00:00:00Z"},
    )
    put(store, [old, new, other])
    assert store.delete_before("system.auth", date(2026, 9, 1)) == 1
    store.refresh()
    assert messages(store, MatchAll()) == ["new", "other dataset"]


REGEX_MESSAGES = [
    "GET /index.php?id=1 UNION SELECT password FROM users",
    "select 1",
    "cat /etc/passwd",
    "/etc/passwd read",
    "line one\nline two",
    "ends with newline\n",
    "Đăng nhập thất bại",
    "a.b a-b 12345",
    "",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("passwd", ["/etc/passwd read", "cat /etc/passwd"]),
        ("^/etc", ["/etc/passwd read"]),
        ("passwd$", ["cat /etc/passwd"]),
        ("(^|cat )/etc/passwd", ["/etc/passwd read", "cat /etc/passwd"]),
        ("(?i)union\\s+select", ["GET /index.php?id=1 UNION SELECT password FROM users"]),
        ("union\\s+select", []),
        ("one.line", []),
        ("(?s)one.line", ["line one\nline two"]),
        ("newline$", ["ends with newline\n"]),
        ("\\d{5}", ["a.b a-b 12345"]),
        ("a\\.b", ["a.b a-b 12345"]),
        ("[^a-z ]b", ["a.b a-b 12345"]),
        ("^$", [""]),
        ("thất bại", ["Đăng nhập thất bại"]),
        ("(?i)ĐĂNG", []),
        ("(?i)SELECT [0-9]", ["select 1"]),
        ("(?i)A-B\\s", ["a.b a-b 12345"]),
    ],
)
def test_it_matches_regexes_as_python_re_search(store: EventStore, pattern: str, expected: list[str]) -> None:
    put(store, [event(i, message=m) for i, m in enumerate(REGEX_MESSAGES)])
    got = messages(store, Regex("message", pattern))
    assert got == sorted(expected)
    assert got == sorted(m for m in REGEX_MESSAGES if re.search(pattern, m, re.ASCII))


@pytest.mark.parametrize(
    "query",
    [
        Regex("message", "\\bword"),
        Regex("message", "(?=x)y"),
        Regex("message", "(a)\\1"),
        Regex("source.ip", "10"),
        Regex("message", "(unclosed"),
        Wildcard("source.ip", "10.*"),
        Cidr("user.name", "10.0.0.0/8"),
        Term("source.ip", "not-an-ip"),
        Range("user.name", gte=1),
        Term("event.original", "x"),
    ],
)
def test_it_refuses_queries_that_cannot_mean_the_same_everywhere(store: EventStore, query: Query) -> None:
    with pytest.raises(QueryError):
        store.count(query, agencies=None)


def test_it_reports_health(store: EventStore) -> None:
    health = store.health()
    assert health["backend"] == store.backend
    assert health["status"] in ("green", "yellow")


def test_it_stamps_ingest_time_when_the_write_happens(store: EventStore) -> None:
    from soc import ecs

    before = datetime.now(UTC).replace(microsecond=0)
    store.write([event(1, message="now")], agency="a")
    store.refresh()
    after = datetime.now(UTC) + timedelta(seconds=1)
    [hit] = list(scan(store, MatchAll(), agencies=None))
    assert before <= ecs.parse_time(hit.source["event"]["ingested"]) <= after


def test_group_counts_of_nothing_stored_yet_is_empty(store: EventStore) -> None:
    assert store.group_counts(MatchAll(), ["source.ip"], agencies=None) == {}
    put(store, [event(1, user={"name": "u1"})])
    assert store.group_counts(MatchAll(), ["source.ip"], agencies=["nobody"], datasets=["never.seen"]) == {}
