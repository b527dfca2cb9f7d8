"""Kind-of-day calendar: comparisons align like with like."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from domain.calendar import DayKind, HolidayCalendar, default_calendar

D = dt.date


def test_kinds_from_the_published_notice() -> None:
    cal = default_calendar()
    assert cal.kind(D(2026, 10, 1)) is DayKind.HOLIDAY
    assert cal.kind(D(2026, 10, 10)) is DayKind.MAKEUP_WORKDAY  # Saturday worked after National Day
    assert cal.kind(D(2026, 11, 25)) is DayKind.WORKDAY
    assert cal.kind(D(2026, 11, 28)) is DayKind.WEEKEND
    assert 2026 in cal.known_years


def test_holiday_compares_with_the_last_holiday() -> None:
    cal = default_calendar()
    assert cal.last_comparable_day(D(2026, 10, 2)) == D(2026, 10, 1)
    first = cal.last_comparable_day(D(2026, 10, 1))
    assert first is not None and cal.kind(first) is DayKind.HOLIDAY and first < D(2026, 10, 1)


def test_makeup_workday_compares_with_a_working_day() -> None:
    cal = default_calendar()
    # Monday 12 Oct 2026: the last working day before it is the make-up Saturday 10 Oct
    assert cal.last_comparable_day(D(2026, 10, 12)) == D(2026, 10, 10)
    # the make-up Saturday itself compares with Friday 9 Oct, not with a weekend
    assert cal.last_comparable_day(D(2026, 10, 10)) == D(2026, 10, 9)


def test_same_kind_last_week_skips_a_holiday() -> None:
    cal = default_calendar()
    # Friday 9 Oct 2026: seven days back is 2 Oct (holiday) -> the nearest working day before it
    got = cal.same_kind_last_week(D(2026, 10, 9))
    assert got is not None and cal.is_working(got) and got <= D(2026, 10, 2)
    assert cal.same_kind_last_week(D(2026, 11, 25)) == D(2026, 11, 18)
    assert cal.same_kind_last_week(D(2026, 11, 28)) == D(2026, 11, 21)


def test_bad_calendar_file_names_file_year_and_value(tmp_path: Path) -> None:
    bad = tmp_path / "cal.yaml"
    bad.write_text("schema_version: 1\nyears:\n  2027:\n    holidays: [2026-01-01]\n", encoding="utf-8")
    expected = r"cal.yaml: year 2027, holidays: datetime.date\(2026, 1, 1\) is not a date in 2027"
    with pytest.raises(ValueError, match=expected):
        HolidayCalendar.from_yaml(bad)
    bad.write_text("years: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected schema_version: 1"):
        HolidayCalendar.from_yaml(bad)
