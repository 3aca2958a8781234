"""Working days across Tết, Hùng Kings, 30/4–1/5, 2/9 and weekends, with the real 2026/2027 dates."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from soc.dossiers.calendar import WorkingCalendar, from_settings
from soc.errors import ConfigError
from soc.settings import Settings

CAL = WorkingCalendar()


def test_it_skips_tet_2026_and_the_weekends_around_it() -> None:
    # Tết Bính Ngọ: days off Mon 16/2 to Fri 20/2/2026, with the weekends either side.
    assert CAL.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)


def test_it_skips_tet_2027() -> None:
    # Tết Đinh Mùi: days off Thu 4/2 to Wed 10/2/2027.
    assert CAL.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 11)


def test_it_counts_a_fifteen_day_appraisal_across_tet_2027() -> None:
    assert CAL.add_working_days(date(2027, 1, 28), 15) == date(2027, 2, 25)


def test_it_skips_reunification_day_and_labour_day_2026() -> None:
    assert CAL.add_working_days(date(2026, 4, 29), 1) == date(2026, 5, 4)


def test_it_skips_the_observed_hung_kings_day_2026() -> None:
    # 10/3 lunar falls on Sunday 26/4/2026; Monday 27/4 is off instead.
    assert not CAL.is_working_day(date(2026, 4, 27))
    assert CAL.add_working_days(date(2026, 4, 24), 1) == date(2026, 4, 28)


def test_it_skips_national_day_2026_with_its_bridge_day() -> None:
    # 31/8 (Mon) is a bridge day off, worked back on Saturday 22/8.
    assert CAL.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 3)


def test_it_counts_the_saturday_worked_to_make_up_for_a_bridge_day() -> None:
    assert CAL.is_working_day(date(2026, 8, 22))
    assert CAL.add_working_days(date(2026, 8, 21), 1) == date(2026, 8, 22)


def test_it_skips_national_day_2027() -> None:
    assert CAL.add_working_days(date(2027, 9, 1), 1) == date(2027, 9, 6)


def test_it_starts_counting_after_a_weekend() -> None:
    assert CAL.add_working_days(date(2026, 3, 7), 5) == date(2026, 3, 13)


def test_it_counts_on_the_local_date_of_an_event() -> None:
    # 18:00 UTC on Thursday 5/3 is 01:00 on Friday 6/3 in Vietnam.
    assert CAL.deadline(datetime(2026, 3, 5, 18, 0, tzinfo=UTC), 1) == date(2026, 3, 9)


def test_it_counts_working_days_between_two_dates_and_back() -> None:
    assert CAL.working_days_between(date(2026, 2, 13), date(2026, 2, 27)) == 5
    assert CAL.subtract_working_days(date(2026, 2, 27), 5) == date(2026, 2, 13)
    assert CAL.working_days_between(date(2026, 2, 27), date(2026, 2, 13)) == -5


def test_it_honours_configured_days_off_and_make_up_days() -> None:
    settings = dataclasses.replace(
        Settings(), dossier_days_off="2026-03-10", dossier_make_up_days="2026-03-14"
    )
    cal = from_settings(settings)

    assert not cal.is_working_day(date(2026, 3, 10))
    assert cal.is_working_day(date(2026, 3, 14))
    assert cal.add_working_days(date(2026, 3, 9), 5) == date(2026, 3, 16)


def test_it_refuses_a_configured_day_that_is_not_a_date() -> None:
    with pytest.raises(ConfigError, match="dossier_days_off: '30/4' is not a date"):
        from_settings(dataclasses.replace(Settings(), dossier_days_off="30/4"))
