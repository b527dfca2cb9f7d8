"""Reference values and relative change for like-with-like comparisons."""

from __future__ import annotations

import datetime as dt

from analytics.compare import Reference, compare
from domain.calendar import default_calendar


def test_change_is_relative_and_undefined_without_a_base() -> None:
    assert Reference("last_week", dt.date(2026, 11, 18), 1200.0).change(1272.0) == 0.06
    assert Reference("last_week", dt.date(2026, 11, 18), 0.0).change(5.0) is None
    assert Reference("last_week", dt.date(2026, 11, 18), None).change(5.0) is None


def test_compare_reads_history_at_the_same_minute() -> None:
    seen = []

    def cumulative(day: dt.date, minute: int) -> float:
        seen.append((day, minute))
        return 100.0

    refs = compare(default_calendar(), dt.date(2026, 10, 9), 720, cumulative)  # Friday after National Day
    assert [(r.label, r.day) for r in refs] == [("last_comparable", dt.date(2026, 10, 8)),
                                                ("last_week", dt.date(2026, 9, 30))]
    assert seen == [(dt.date(2026, 10, 8), 720), (dt.date(2026, 9, 30), 720)]
