"""The batch fold of live-state deltas: what each kind of contribution does, without Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from analytics.deltas import fold, member
from tests.streams.schemas import gate, meal

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def test_sums_are_bucketed_by_local_day_and_minute() -> None:
    t0 = dt.datetime(2026, 3, 2, 15, 59, 30, tzinfo=UTC)  # 23:59:30 in Shanghai
    events = [meal(t0, seq=1, amount="10"), meal(t0 + dt.timedelta(seconds=20), seq=2, amount="5"),
              meal(t0 + dt.timedelta(seconds=40), seq=3, amount="1")]  # the last one is past local midnight
    d = fold(events, SH)
    assert d.sums[("tcant.meals", "20260302", 23 * 60 + 59)] == 2
    assert d.sums[("tcant.revenue", "20260302", 23 * 60 + 59)] == 15
    assert d.sums[("tcant.meals", "20260303", 0)] == 1
    assert d.sums[("tcant.events", "20260302", 23 * 60 + 59)] == 2
    assert d.events == 3


def test_levels_add_and_a_late_last_never_overwrites_a_newer_one() -> None:
    t0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    events = [gate(t0 + dt.timedelta(seconds=10), seq=1, direction="in", queue=7),
              gate(t0, seq=2, direction="in", queue=3),  # older, arrives later
              gate(t0 + dt.timedelta(seconds=5), seq=3, direction="out", queue=4)]
    d = fold(events, SH)
    assert d.levels == {"tgate.onsite": 1.0}
    assert d.lasts[("tgate.queue", "GP01")] == (int((t0 + dt.timedelta(seconds=10)).timestamp() * 1000), 7)


def test_sources_keep_the_newest_time_and_the_sequence_range() -> None:
    t0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    events = [meal(t0 + dt.timedelta(seconds=s), seq=q, amount="1") for s, q in ((3, 7), (1, 5), (2, 9), (0, 6))]
    d = fold(events, SH)
    [state] = d.sources.values()
    assert state == [int((t0 + dt.timedelta(seconds=3)).timestamp() * 1000), 5, 9, 4]


def test_minutes_that_share_a_local_minute_when_clocks_go_back_are_added() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice
    first = dt.datetime(2026, 10, 25, 0, 30, 10, tzinfo=UTC)
    second = first + dt.timedelta(hours=1)
    d = fold([meal(first, seq=1, amount="2"), meal(second, seq=2, amount="3")], berlin)
    assert d.sums[("tcant.meals", "20261025", 2 * 60 + 30)] == 2
    assert d.sums[("tcant.revenue", "20261025", 2 * 60 + 30)] == 5


def test_an_extractor_yielding_something_else_fails_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.deltas as deltas

    def bad(_ev: Any) -> list[Any]:
        return [("tcant.meals", 1.0)]

    monkeypatch.setitem(deltas._EXTRACTORS, "tcant.meal", bad)
    with pytest.raises(TypeError, match="tcant.meal"):
        fold([meal(dt.datetime(2026, 3, 2, tzinfo=UTC), seq=1, amount="1")], SH)


def test_member_fills_the_one_placeholder_of_a_family() -> None:
    assert member("energy.water.building.{building}", "B03") == "energy.water.building.B03"
    assert member("canteen.dish.{dish}", "红烧肉") == "canteen.dish.红烧肉"
    assert member("canteen.meals.canteen.{canteen}", "CT1") == "canteen.meals.canteen.{canteen}".format(canteen="CT1")
