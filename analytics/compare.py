"""Like-with-like comparisons of today's running totals.

"Same time on the last comparable day" and "same time last week" are aligned by the kind of
day (DOMAIN.md): a holiday is compared with the last holiday, a make-up working day with a
working day; otherwise a holiday week reads as a 60 % drop and leaders stop trusting the wall.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from domain.calendar import HolidayCalendar


@dataclass(frozen=True)
class Reference:
    label: str  # "last_comparable" | "last_week"
    day: dt.date
    value: float | None  # None: no data kept for that day

    def change(self, today: float) -> float | None:
        """Relative change of today against this reference (0.06 = +6 %); None when undefined."""
        if self.value is None or self.value == 0:
            return None
        return (today - self.value) / self.value


def reference_days(cal: HolidayCalendar, today: dt.date) -> dict[str, dt.date | None]:
    return {"last_comparable": cal.last_comparable_day(today), "last_week": cal.same_kind_last_week(today)}


def compare(cal: HolidayCalendar, today: dt.date, minute: int,
            cumulative: Callable[[dt.date, int], float | None]) -> list[Reference]:
    """References for a running total at `minute` of `today`; `cumulative(day, minute)` reads history."""
    out = []
    for label, day in reference_days(cal, today).items():
        if day is not None:
            out.append(Reference(label, day, cumulative(day, minute)))
    return out
