from __future__ import annotations

from datetime import UTC, datetime

import pytest

from soc import ecs


def test_it_expands_dotted_keys_without_touching_the_input() -> None:
    raw = {"source": {"port": 22}, "source.ip": "10.0.0.1", "@timestamp": "x"}
    assert ecs.expand(raw) == {"source": {"port": 22, "ip": "10.0.0.1"}, "@timestamp": "x"}
    assert raw == {"source": {"port": 22}, "source.ip": "10.0.0.1", "@timestamp": "x"}


def test_it_refuses_a_path_that_is_both_value_and_object() -> None:
    with pytest.raises(ValueError, match="conflicts"):
        ecs.expand({"a": 1, "a.b": 2})
    with pytest.raises(ValueError, match="given twice"):
        ecs.expand({"a.b": 1, "a": {"b": 2}})


def test_it_reads_values_through_arrays_of_objects() -> None:
    doc = {"a": [{"b": 1}, {"b": [2, 3]}, {"c": 4}], "x": None}
    assert ecs.values(doc, "a.b") == [1, 2, 3]
    assert ecs.values(doc, "x") == []
    assert ecs.get(doc, "a.c") == 4


def test_it_gives_the_same_id_whatever_the_key_order() -> None:
    one = {"b": 1, "a": {"y": 2, "x": 1}}
    two = {"a": {"x": 1, "y": 2}, "b": 1}
    assert ecs.event_id("ag", one) == ecs.event_id("ag", two)
    assert ecs.event_id("ag", one) != ecs.event_id("other", one)


def test_it_ignores_store_fields_in_the_id() -> None:
    doc = {"event": {"dataset": "d"}}
    stamped = {"event": {"dataset": "d", "ingested": "2026-01-01T00:00:00Z", "hash": "x"}}
    assert ecs.event_id("a", doc) == ecs.event_id("a", stamped)


def test_a_collector_event_is_named_by_its_line_not_by_when_it_was_read() -> None:
    # an unparsed line read twice (again after a crash) is stamped with each reading's time
    first = {
        "@timestamp": "2026-11-27T02:00:00.000Z",
        "event": {"id": "h1-000000000010"},
        "agent": {"type": "soc-collector"},
    }
    again = {**first, "@timestamp": "2026-11-27T02:05:00.000Z"}
    other_line = {**first, "event": {"id": "h1-000000000020"}}
    assert ecs.event_id("ag", first) == ecs.event_id("ag", again)
    assert ecs.event_id("ag", first) != ecs.event_id("ag", other_line)
    assert ecs.event_id("ag", first) != ecs.event_id("other", first)
    # an event.id from anyone else is only part of the content
    foreign = {**first, "agent": {"type": "filebeat"}}
    assert ecs.event_id("ag", foreign) != ecs.event_id(
        "ag", {**foreign, "@timestamp": "2026-11-27T02:05:00.000Z"}
    )


def test_it_formats_times_in_utc_with_milliseconds() -> None:
    at = ecs.parse_time("2026-11-27T09:00:00.123456+07:00")
    assert ecs.format_time(at) == "2026-11-27T02:00:00.123Z"
    assert ecs.to_millis(datetime(1970, 1, 1, 0, 0, 1, 999999, tzinfo=UTC)) == 1999
    assert ecs.parse_time(1000) == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO 8601 date"):
        ecs.parse_time("yesterday")


def test_it_names_datasets_safely_for_index_names() -> None:
    assert ecs.dataset_slug("System.Auth") == "system.auth"
    assert ecs.dataset_slug("../weird name*") == "weird_name"
    assert ecs.dataset_slug(None) == "generic"
