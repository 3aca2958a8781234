"""How much time one engine index covers, per dataset: a day, an ISO week or a month.

Indices are per agency and dataset (so a collector's credential can be limited to its agency's
indices), and every index has at least one shard. Daily indices for a city would mean
agencies × datasets × retention days shards: 40 agencies × 6 datasets × 90 days = 21,600, far past
what a three-node cluster should hold (Elasticsearch refuses new shards past 1,000 per node by
default). So the period follows the dataset's retention: a long-kept dataset gets monthly indices,
a short-kept one weekly or daily ones, because retention drops whole indices and an index is kept
until its last day expires (a 90-day dataset in monthly indices is kept up to ~120 days; a 30-day
one in weekly indices up to 36). `store_index_period` fixes one period for every dataset instead.

Suffixes: day `2026.11.28`, week `2026.w48` (ISO year and week), month `2026.11`. Names of every
period are read back, so changing the setting needs no migration: old indices age out by retention.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

PERIODS = ("day", "week", "month")
CHOICES = ("auto", *PERIODS)
MONTHLY_FROM_DAYS = 60
"""Retention (days) from which `auto` uses monthly indices; forever (0) is monthly too."""
WEEKLY_FROM_DAYS = 14
"""Retention (days) from which `auto` uses weekly indices; below it, daily ones."""

_DAY = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")
_WEEK = re.compile(r"^(\d{4})\.w(\d{2})$")
_MONTH = re.compile(r"^(\d{4})\.(\d{2})$")


def for_retention(days: int) -> str:
    """The period `auto` picks for a dataset kept `days` days (0: forever)."""
    if days == 0 or days >= MONTHLY_FROM_DAYS:
        return "month"
    return "week" if days >= WEEKLY_FROM_DAYS else "day"


def suffix(period: str, year: int, month: int, day: int) -> str:
    if period == "month":
        return f"{year:04d}.{month:02d}"
    if period == "week":
        iso_year, week, _ = date(year, month, day).isocalendar()
        return f"{iso_year:04d}.w{week:02d}"
    return f"{year:04d}.{month:02d}.{day:02d}"


def span(text: str) -> tuple[date, date] | None:
    """(first day, last day) an index suffix covers; None when it is not one of ours."""
    try:
        if m := _DAY.match(text):
            first = date(int(m[1]), int(m[2]), int(m[3]))
            return first, first
        if m := _WEEK.match(text):
            first = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return first, first + timedelta(days=6)
        if m := _MONTH.match(text):
            first = date(int(m[1]), int(m[2]), 1)
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return first, following - timedelta(days=1)
    except ValueError:  # 2026.13, 2026.w54, 2026.02.30: looks like ours, is not
        return None
    return None


def chooser(setting: str, retention_days: Callable[[str], int]) -> Callable[[str], str]:
    """dataset slug -> period, as `store_index_period` says (`auto`: from the slug's retention).
    Answers are cached: the chooser is asked once per document on the write path."""
    if setting in PERIODS:
        return lambda _slug: setting
    cache: dict[str, str] = {}

    def pick(slug: str) -> str:
        period = cache.get(slug)
        if period is None:
            period = cache[slug] = for_retention(retention_days(slug))
        return period

    return pick
