"""Kind-of-day calendar: working day, weekend, public holiday, make-up working day (调休).

Leaders only trust comparisons of like with like, so "same time last week" and "last
comparable day" are aligned by the kind of day rather than by plain date offsets.
The holiday notice is versioned data (holidays_cn.yaml); a year missing from it falls
back to plain weekday/weekend, and `known_years` tells callers where that happens.
"""

from __future__ import annotations

import datetime as dt
import enum
from functools import lru_cache
from pathlib import Path

import yaml

_DATA = Path(__file__).with_name("holidays_cn.yaml")


class DayKind(str, enum.Enum):
    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    MAKEUP_WORKDAY = "makeup_workday"

    @property
    def is_working(self) -> bool:
        """Make-up working days behave like working days for staff rhythm."""
        return self in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY)


class HolidayCalendar:
    """Lookup of day kinds from a published holiday notice."""

    def __init__(self, holidays: set[dt.date], makeup_workdays: set[dt.date], years: set[int]):
        self._holidays = frozenset(holidays)
        self._makeup = frozenset(makeup_workdays)
        self.known_years = frozenset(years)

    @classmethod
    def from_yaml(cls, path: Path = _DATA) -> HolidayCalendar:
        """Load a calendar file; raises ValueError naming the file and year on bad content."""
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("schema_version") != 1:
            raise ValueError(f"{path}: expected schema_version: 1")
        holidays: set[dt.date] = set()
        makeup: set[dt.date] = set()
        for year, block in (doc.get("years") or {}).items():
            for field, target in (("holidays", holidays), ("makeup_workdays", makeup)):
                for day in block.get(field) or []:
                    if not isinstance(day, dt.date) or day.year != int(year):
                        raise ValueError(f"{path}: year {year}, {field}: {day!r} is not a date in {year}")
                    target.add(day)
        return cls(holidays, makeup, {int(y) for y in (doc.get("years") or {})})

    def kind(self, day: dt.date) -> DayKind:
        if day in self._holidays:
            return DayKind.HOLIDAY
        if day in self._makeup:
            return DayKind.MAKEUP_WORKDAY
        return DayKind.WEEKEND if day.weekday() >= 5 else DayKind.WORKDAY

    def is_working(self, day: dt.date) -> bool:
        return self.kind(day).is_working

    def comparable(self, day: dt.date, other: dt.date) -> bool:
        """Working and make-up working days compare with each other; weekends with
        weekends; holidays with holidays."""
        if self.is_working(day):
            return self.is_working(other)
        return self.kind(other) == self.kind(day)

    def last_comparable_day(
        self, day: dt.date, on_or_before: dt.date | None = None, max_back: int = 400
    ) -> dt.date | None:
        """The most recent day before `day` (or on/before `on_or_before`) of the same class.

        Holidays may find their match months back; None when nothing is found in range.
        """
        cand = on_or_before if on_or_before is not None else day - dt.timedelta(days=1)
        for _ in range(max_back):
            if self.comparable(day, cand):
                return cand
            cand -= dt.timedelta(days=1)
        return None

    def same_kind_last_week(self, day: dt.date) -> dt.date | None:
        """Seven days back when that day is comparable, else the nearest comparable day before it."""
        return self.last_comparable_day(day, on_or_before=day - dt.timedelta(days=7))


@lru_cache(maxsize=1)
def default_calendar() -> HolidayCalendar:
    """The packaged calendar, loaded once per process."""
    return HolidayCalendar.from_yaml()
