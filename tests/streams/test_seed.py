"""Seeding live state from backfilled history."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import redis

from streams.live_state import LiveState
from streams.seed import HistorySeeder
from tests.streams.schemas import gate, meal

TZ = ZoneInfo("Asia/Shanghai")
END = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)


def test_recent_sums_and_all_levels_are_seeded_once(r: redis.Redis) -> None:
    live = LiveState(r, TZ)
    seeder = HistorySeeder(live, TZ, END)
    old = END - dt.timedelta(days=20)
    seeder([meal(old, 1), gate(old, 1, "in")])
    seeder([meal(END - dt.timedelta(hours=1), 2), meal(END - dt.timedelta(hours=1), 3), gate(END, 2, "in")])
    assert live.sums(old.astimezone(TZ).strftime("%Y%m%d")) == {}  # older than the minute buckets are kept
    assert live.sums("20261125")["tcant.meals"] == 2
    assert live.levels()["tgate.onsite"] == 2  # levels fold the whole history
    assert live.sources() == {"t.cant": int((END - dt.timedelta(hours=1)).timestamp() * 1000),
                              "t.gate": int(END.timestamp() * 1000)}
    again = HistorySeeder(live, TZ, END)  # the same seeding run again is refused by the guards
    again([meal(old, 1), gate(old, 1, "in")])
    again([meal(END - dt.timedelta(hours=1), 2), meal(END - dt.timedelta(hours=1), 3), gate(END, 2, "in")])
    assert live.sums("20261125")["tcant.meals"] == 2 and live.levels()["tgate.onsite"] == 2
