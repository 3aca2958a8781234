"""Index periods: names for a day, an ISO week and a month, read back to the days they cover."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from soc.store import periods
from soc.store.search import SearchStore
from tests.conftest import make_store


@pytest.mark.parametrize(
    ("period", "day", "name", "first", "last"),
    [
        ("day", date(2026, 11, 28), "2026.11.28", date(2026, 11, 28), date(2026, 11, 28)),
        ("week", date(2026, 11, 28), "2026.w48", date(2026, 11, 23), date(2026, 11, 29)),
        ("week", date(2027, 1, 1), "2026.w53", date(2026, 12, 28), date(2027, 1, 3)),  # ISO year 2026
        ("week", date(2025, 12, 29), "2026.w01", date(2025, 12, 29), date(2026, 1, 4)),
        ("month", date(2026, 12, 31), "2026.12", date(2026, 12, 1), date(2026, 12, 31)),
        ("month", date(2028, 2, 10), "2028.02", date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_it_names_a_period_and_reads_back_the_days_it_covers(
    period: str, day: date, name: str, first: date, last: date
) -> None:
    assert periods.suffix(period, day.year, day.month, day.day) == name
    assert periods.span(name) == (first, last)


@pytest.mark.parametrize("text", ["2026.13", "2026.w54", "2026.02.30", "2026-11-28", "latest", ""])
def test_it_does_not_take_a_hand_made_name_for_a_period(text: str) -> None:
    assert periods.span(text) is None


def test_auto_follows_retention_and_a_fixed_setting_does_not() -> None:
    days = {"system.auth": 90, "network.flow": 30, "network.dns": 7, "nginx.access": 0}
    auto = periods.chooser("auto", days.__getitem__)
    assert {slug: auto(slug) for slug in days} == {
        "system.auth": "month", "network.flow": "week", "network.dns": "day", "nginx.access": "month",
    }  # fmt: skip
    assert periods.chooser("week", days.__getitem__)("system.auth") == "week"


@pytest.mark.parametrize("backend", ["opensearch", "elasticsearch"])
def test_new_indices_take_the_period_and_the_replicas_the_settings_name(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for store in make_store(backend, request, tmp_path):
        assert isinstance(store, SearchStore)
        mine = SearchStore(store.engine, prefix=store.prefix, replicas=1, period=lambda _slug: "week")
        mine.ensure_schema()
        doc = {"@timestamp": "2026-11-28T01:00:00Z", "event": {"dataset": "system.auth"}, "message": "x"}
        assert mine.write([doc], agency="so-a").created == 1
        name = f"{store.prefix}-events-so-a.system.auth-2026.w48"
        assert store.engine.indices(f"{store.prefix}-events-*") == [name]
        settings = store.engine.client.indices.get_settings(index=name)  # type: ignore[attr-defined]
        assert settings[name]["settings"]["index"]["number_of_replicas"] == "1"
