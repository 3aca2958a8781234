"""Working days in Vietnam: weekends and public holidays (lunar ones included) are not counted.

Holidays come from the `holidays` package (country VN), including the official bridge days off it
knows; the Saturdays worked to make up for those bridges are read from the same source. Each city
can add its own days off and make-up working days in settings. Deadlines are counted on the local
calendar (Asia/Ho_Chi_Minh): an event at 23:30 local time on a Friday counts from that Friday.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from soc.errors import ConfigError
from soc.settings import Settings

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


class WorkingCalendar:
    def __init__(
        self,
        days_off: Iterable[date] = (),
        make_up_days: Iterable[date] = (),
        zone: ZoneInfo = ZONE,
    ) -> None:
        self.days_off = frozenset(days_off)
        self.make_up_days = frozenset(make_up_days)
        self.zone = zone

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_days or day in _official_make_up_days(day.year):
            return True
        if day in self.days_off or day.weekday() >= 5:
            return False
        return day not in _public_holidays(day.year)

    def holiday_name(self, day: date) -> str | None:
        return _public_holidays(day.year).get(day)

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (start itself not counted); 0: start or the next."""
        day = start
        if days == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def subtract_working_days(self, end: date, days: int) -> date:
        """The `days`-th working day before `end`."""
        day, counted = end, 0
        while counted < days:
            day -= timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (negative when end is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(n)))

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def deadline(self, anchor_at: datetime, working_days: int) -> date:
        """The last day on which something counted from `anchor_at` is still on time."""
        return self.add_working_days(self.local_date(anchor_at), working_days)


def from_settings(settings: Settings) -> WorkingCalendar:
    problems: list[str] = []
    days_off = _dates(settings.dossier_days_off, "dossier_days_off", problems)
    make_up = _dates(settings.dossier_make_up_days, "dossier_make_up_days", problems)
    if problems:
        raise ConfigError(problems)
    return WorkingCalendar(days_off, make_up, ZoneInfo(settings.timezone))


def _dates(text: str, name: str, problems: list[str]) -> list[date]:
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(date.fromisoformat(part))
        except ValueError:
            problems.append(f"{name}: '{part}' is not a date (YYYY-MM-DD)")
    return out


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


@lru_cache(maxsize=64)
def _official_make_up_days(year: int) -> frozenset[date]:
    """Weekend days the government moved work to, in exchange for a bridge day off.

    `holidays` keeps them as the "substituted from" half of its special holidays:
    (month, day, from_month, from_day[, from_year]) per year.
    """
    from holidays.countries.vietnam import VietnamStaticHolidays

    out: set[date] = set()
    for entry_year in (year - 1, year, year + 1):
        entries: Any = VietnamStaticHolidays.special_public_holidays.get(entry_year, ())
        if entries and not isinstance(entries[0], tuple):
            entries = (entries,)
        for entry in entries:
            if isinstance(entry, tuple) and len(entry) >= 4:
                worked = date(entry[4] if len(entry) > 4 else entry_year, entry[2], entry[3])
                if worked.year == year:
                    out.add(worked)
    return frozenset(out)
