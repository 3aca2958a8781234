"""Context.stamp (the cached UTC minute) gives what converting each time through its zone gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers.base import Context, iso_time

ZONES = ["UTC", "Asia/Ho_Chi_Minh", "America/New_York", "Europe/London", "Australia/Lord_Howe", "+05:45"]


def long_way(ctx: Context, year: int, month: int, day: int, hms: str) -> str | None:
    try:
        return iso_time(ctx.local(year, month, day, hms))
    except ValueError:
        return None


def cached(ctx: Context, year: int, month: int, day: int, hms: str) -> str | None:
    try:
        return ctx.stamp(year, month, day, hms)
    except ValueError:
        return None


@settings(max_examples=400, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    when=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2040, 12, 31)),
    seconds=st.sampled_from(["00", "07", "59", "60", "99"]),
)
def test_the_cached_minute_gives_the_zone_conversion(zone: str, when: datetime, seconds: str) -> None:
    ctx = Context(timezone=zone)
    hms = f"{when.hour:02d}:{when.minute:02d}:{seconds}"
    first = cached(ctx, when.year, when.month, when.day, hms)
    assert first == long_way(ctx, when.year, when.month, when.day, hms)
    assert cached(ctx, when.year, when.month, when.day, hms) == first  # from the cache this time


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        # the hour New York skips (02:xx on 2026-03-08 does not exist: fold=0 reads it as EST)
        ("America/New_York", (2026, 3, 8, "02:30:15"), "2026-03-08T07:30:15.000Z"),
        # the hour it repeats (fold=0: the first, EDT)
        ("America/New_York", (2026, 11, 1, "01:30:15"), "2026-11-01T05:30:15.000Z"),
        ("Australia/Lord_Howe", (2026, 10, 4, "02:45:01"), "2026-10-03T15:45:01.000Z"),
        ("Asia/Ho_Chi_Minh", (2026, 11, 27, "09:00:59"), "2026-11-27T02:00:59.000Z"),
    ],
)
def test_daylight_saving_edges(zone: str, local: tuple[int, int, int, str], utc: str) -> None:
    ctx = Context(timezone=zone)
    assert ctx.stamp(*local) == utc == long_way(ctx, *local)


def test_fractions_and_odd_input_take_the_long_way() -> None:
    ctx = Context(timezone="Asia/Ho_Chi_Minh", now=datetime(2026, 11, 27, tzinfo=UTC))
    assert ctx.stamp(2026, 11, 27, "09:00:01.250") == "2026-11-27T02:00:01.250Z"
    with pytest.raises(ValueError, match="second must be"):
        ctx.stamp(2026, 11, 27, "09:00:60")
    with pytest.raises(ValueError, match="day is out of range"):
        ctx.stamp(2026, 2, 30, "09:00:00")
    with pytest.raises(ValueError, match="hour must be"):
        ctx.stamp(2026, 11, 27, "25:00:00")
