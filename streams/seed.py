"""Seed live state from backfilled history, so a first start shows today's real totals.

The backfill writes the warehouse directly; without this the wall would count today from
the moment the app started and have no reference days to compare with. Running levels
(people on site, open orders) fold the whole history; per-minute and daily sums are kept
only for the days live state retains (the minute buckets live 10 days). The history's
sources (`backfill.<system>`) keep their newest event time, so a system whose live feed
has not spoken yet shows when its data was last current instead of "no data".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from analytics.deltas import BatchDeltas, fold
from datasources.base import Event
from streams.live_state import LiveState

SUM_DAYS = 10


class HistorySeeder:
    """Folds backfilled days (as `warehouse.backfill.backfill(observe=...)` hands them over) into live state."""

    def __init__(self, live: LiveState, tz: ZoneInfo, end: dt.datetime):
        self.live, self.tz = live, tz
        self.first_sum_day = (end.astimezone(tz) - dt.timedelta(days=SUM_DAYS - 1)).strftime("%Y%m%d")
        self.tag = end.strftime("%Y%m%dT%H%M%S")
        self.days = 0

    def __call__(self, events: Iterable[Event]) -> None:
        deltas = fold(events, self.tz)
        self.apply(deltas)

    def apply(self, deltas: BatchDeltas) -> None:
        """One guarded apply per backfilled day: a re-run of the same seeding is refused."""
        deltas.sums = {k: v for k, v in deltas.sums.items() if k[1] >= self.first_sum_day}
        self.days += 1
        self.live.apply(f"seed:{self.tag}:{self.days}", deltas.to_wire())
