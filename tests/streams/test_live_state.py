"""Live state: guarded apply is exactly once and moves the state version; reads return what was applied, with
the version of the state they come from; topics build messages that carry it, and the pages' rule on it never
takes an update older than their snapshot."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any
from zoneinfo import ZoneInfo

import redis

from analytics.deltas import fold
from streams.consumer import ensure_group
from streams.live_state import VERSION_KEY, LiveState, lasts_read, levels_read, sums_read
from streams.topics import Topic, Touched, snapshot, update
from tests.fault.page_client import not_older
from tests.streams.schemas import gate, meal

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 25, 3, 50, tzinfo=dt.UTC)  # 11:50 local, lunch


def events():  # type: ignore[no-untyped-def]
    evs = [meal(T0 + dt.timedelta(seconds=i * 7), i + 1, amount=f"{10 + i % 5}.50") for i in range(40)]
    evs += [gate(T0 + dt.timedelta(seconds=i * 11), i + 1, "in" if i % 3 else "out", queue=float(i))
            for i in range(30)]
    return evs


def test_apply_is_guarded_by_batch_id(r: redis.Redis) -> None:
    live = LiveState(r, TZ)
    wire = fold(events(), TZ).to_wire()
    assert live.apply("b1", wire) == (True, 0)
    assert live.apply("b1", wire) == (False, 0)
    day = live.day_key(T0)
    sums = live.sums(day)
    assert sums["tcant.meals"] == 40
    assert round(sums["tcant.revenue"], 2) == round(sum(10 + i % 5 + 0.5 for i in range(40)), 2)
    assert sums["tcant.events"] == 40 and sums["tgate.events"] == 30
    assert live.levels() == {"tgate.onsite": 20 - 10}
    assert live.lasts("tgate.queue") == {"GP01": 29.0}


def test_apply_acks_entries_in_the_same_call(r: redis.Redis) -> None:
    live = LiveState(r, TZ)
    ensure_group(r, "ev:tcant", "g")
    ids = [r.xadd("ev:tcant", {"e": b"{}"}) for _ in range(3)]
    r.xreadgroup("g", "c", {"ev:tcant": ">"}, count=10)
    assert r.xpending("ev:tcant", "g")["pending"] == 3
    fresh, acked = live.apply("b2", fold(events()[:3], TZ).to_wire(), stream="ev:tcant", group="g", ids=ids)
    assert (fresh, acked) == (True, 3)
    assert r.xpending("ev:tcant", "g")["pending"] == 0


def test_shuffled_batches_equal_the_ordered_replay(r: redis.Redis) -> None:
    evs = events()
    ordered = LiveState(r, TZ)
    ordered.apply("all", fold(evs, TZ).to_wire())
    expected = (ordered.sums(ordered.day_key(T0)), ordered.levels(), ordered.lasts("tgate.queue"),
                ordered.minutes("tcant.meals", ordered.day_key(T0)))
    r.flushdb()
    shuffled = evs[:]
    random.Random(3).shuffle(shuffled)
    live = LiveState(r, TZ)
    for i in range(0, len(shuffled), 9):
        live.apply(f"s{i}", fold(shuffled[i:i + 9], TZ).to_wire())
    got = (live.sums(live.day_key(T0)), live.levels(), live.lasts("tgate.queue"),
           live.minutes("tcant.meals", live.day_key(T0)))
    assert {k: round(v, 6) for k, v in got[0].items()} == {k: round(v, 6) for k, v in expected[0].items()}
    assert got[1:] == expected[1:]


def test_series_and_sequence_gaps(r: redis.Redis) -> None:
    live = LiveState(r, TZ)
    evs = [meal(T0 + dt.timedelta(minutes=m), seq) for m, seq in ((0, 1), (0, 2), (2, 3), (2, 5), (3, 9))]
    live.apply("b", fold(evs, TZ).to_wire())
    series = live.series("tcant.meals", T0 + dt.timedelta(minutes=3, seconds=30), 5)
    assert [v for _t, v in series] == [0, 2, 0, 2, 1]
    assert series[-1][0] == int((T0 + dt.timedelta(minutes=3)).timestamp() * 1000)
    assert live.seq_gaps() == {"t.cant": 9 - 1 + 1 - 5}


def test_snapshot_and_partial_update_messages(r: redis.Redis) -> None:
    live = LiveState(r, TZ)
    topic = Topic("t", sums=("tcant.*",), series=("tcant.meals",), levels=("tgate.*",), lasts=("tgate.queue",))
    wire = fold(events(), TZ).to_wire()
    live.apply("b", wire)
    now = T0 + dt.timedelta(minutes=10)
    snap = snapshot(live, topic, now, {"tcant": 60})
    assert snap["sums"]["tcant.meals"] == 40 and "tgate.events" not in snap["sums"]
    assert snap["levels"] == {"tgate.onsite": 10}
    assert snap["lasts"] == {"tgate.queue": {"GP01": 29.0}}
    assert len(snap["minute"]["tcant.meals"]) == 60 and sum(v for _t, v in snap["minute"]["tcant.meals"]) == 40
    assert snap["tz_offset_min"] == 480 and snap["expect"] == {"tcant": 60}
    assert set(snap["sources"]) == {"t.cant", "t.gate"}
    assert snap["v"] == live.read()[0] > 0 and snap["t"] == int(now.timestamp() * 1000)

    more = fold([meal(now, 100)], TZ).to_wire()
    live.apply("b2", more)
    touched = Touched.empty()
    touched.add(more)
    msg = update(live, topic, touched, now, with_series=True)
    assert msg is not None
    assert msg["sums"] == {"tcant.meals": 41, "tcant.revenue": snap["sums"]["tcant.revenue"] + 12.5,
                           "tcant.events": 41}
    assert msg["levels"] == {} and msg["lasts"] == {}
    assert msg["minute"]["tcant.meals"] == [[int(now.timestamp() * 1000), 1.0]]
    assert list(msg["sources"]) == ["t.cant"]
    assert msg["v"] == live.read()[0] > snap["v"]
    assert update(live, Topic("other", sums=("zzz.*",)), Touched.empty(), now, with_series=True) is None


def one_meal_in(k: int) -> dict[str, Any]:
    """Batch k of a run in which every batch adds one meal and one person on site."""
    at = T0 + dt.timedelta(seconds=k)
    return fold([meal(at, k), gate(at, k, "in", queue=float(k))], TZ).to_wire()


def test_every_applied_batch_moves_the_version_forward_once(r: redis.Redis) -> None:
    live = LiveState(r, TZ)
    assert live.read() == (0, []), "no batch applied yet"
    live.apply("b1", one_meal_in(1))
    first = live.read()[0]
    clock_s, clock_us = r.time()
    assert 0 < clock_s * 1_000_000 + clock_us - first < 5_000_000, "Redis's clock in microseconds"

    ahead = first + 3_600_000_000  # a version an hour ahead of the clock: each batch adds exactly 1
    r.set(VERSION_KEY, ahead)
    live.apply("b2", one_meal_in(2))
    live.apply("b2", one_meal_in(2))  # the same batch again: refused by its guard
    live.apply("empty", fold([], TZ).to_wire())  # nothing to apply
    live.apply("b3", one_meal_in(3))
    assert live.read()[0] == ahead + 2

    r.delete(VERSION_KEY)  # Redis lost its data (restarted without AOF, restored from a backup)
    live.apply("b4", one_meal_in(4))
    assert first < live.read()[0] < ahead, "back on the clock, above every version before the loss"


def test_messages_carry_the_version_their_values_come_from(r: redis.Redis) -> None:
    """The bug the web-kill fault test found, in miniature: an update read at an older state but stamped later
    (`t`) than a snapshot; by `t` a page would show its 1 meal after the snapshot's 2, by `v` it drops it."""
    live = LiveState(r, TZ)
    topic = Topic("t", sums=("tcant.*",), levels=("tgate.*",), lasts=("tgate.queue",))
    now = T0 + dt.timedelta(minutes=10)
    first = one_meal_in(1)
    live.apply("b1", first)
    touched = Touched.empty()
    touched.add(first)
    older = update(live, topic, touched, now + dt.timedelta(seconds=1), with_series=False)
    live.apply("b2", one_meal_in(2))
    snap = snapshot(live, topic, now, {})
    second = one_meal_in(3)
    live.apply("b3", second)
    touched = Touched.empty()
    touched.add(second)
    newer = update(live, topic, touched, now, with_series=False)
    assert older is not None and newer is not None
    assert (older["sums"]["tcant.meals"], snap["sums"]["tcant.meals"], newer["sums"]["tcant.meals"]) == (1, 2, 3)
    assert (older["levels"], snap["levels"], newer["levels"]) == ({"tgate.onsite": 1}, {"tgate.onsite": 2},
                                                                 {"tgate.onsite": 3})
    assert older["v"] < snap["v"] < newer["v"] == live.read()[0]
    assert older["t"] > snap["t"], "the older values carry the later clock stamp"
    assert not not_older(older["v"], snap["v"]) and not_older(newer["v"], snap["v"])
    assert not_older(snap["v"], snap["v"]), "an update of the very state of the snapshot is harmless"


def test_a_read_racing_applies_shows_exactly_the_state_of_its_version(r: redis.Redis) -> None:
    """Batches are applied from a thread while the main thread reads over and over; every read's values must be
    the state the ledger recorded for its version (batch k: k meals, k on site, queue k)."""
    live = LiveState(r, TZ)
    day = live.day_key(T0)
    ledger = {0: 0}  # version -> batches applied

    def apply_all() -> None:
        for k in range(1, 301):
            live.apply(f"race{k}", one_meal_in(k))
            ledger[live.read()[0]] = k  # the only writer: the version now is batch k's

    def state(k: int) -> tuple[Any, ...]:
        return ({"tcant.meals": float(k)}, {"tgate.onsite": float(k)}, {"GP01": float(k)} if k else {})

    reads = [
        sums_read(day, ["tcant.meals"]), levels_read(["tgate.onsite"]), lasts_read("tgate.queue", ["GP01"])]
    applier = threading.Thread(target=apply_all)
    applier.start()
    seen = []
    while applier.is_alive():
        v, values = live.read(*reads)
        seen.append((v, tuple(values)))
    applier.join()
    wrong = [(v, values, state(ledger[v])) for v, values in seen if values != state(ledger[v])]
    assert not wrong, f"{len(wrong)} of {len(seen)} reads show values of another state: {wrong[:3]}"
    assert len({v for v, _ in seen}) > 20, "the reads saw the state move (else the race was not run)"

    # the check can fail: the version and the values read apart, with an apply in between
    v = live.read()[0]
    live.apply("race-late", one_meal_in(301))
    apart = (live.sums(day, ["tcant.meals"]), live.levels(["tgate.onsite"]), live.lasts("tgate.queue", ["GP01"]))
    assert apart != state(ledger[v])


def test_comparisons_align_by_kind_of_day_and_time_of_day(r: redis.Redis) -> None:
    from streams.topics import comparisons

    live = LiveState(r, TZ)

    def at(day: int, hh: int, mm: int) -> dt.datetime:
        return dt.datetime(2026, 11, day, hh, mm, tzinfo=TZ).astimezone(dt.UTC)

    evs = [meal(at(24, 11, 0), i) for i in range(3)] + [meal(at(24, 12, 30), 9)]  # Tuesday
    evs += [meal(at(18, 11, 0), 20 + i) for i in range(5)]  # Wednesday last week
    evs += [meal(at(22, 11, 0), 40)]  # Sunday: not comparable with a working day
    live.apply("hist", fold(evs, TZ).to_wire())
    got = comparisons(live, ["tcant.meals"], at(25, 12, 0))  # Wednesday noon
    assert got == {"tcant.meals": {"last_comparable": {"day": "20261124", "value": 3.0},
                                   "last_week": {"day": "20261118", "value": 5.0}}}
    sunday = comparisons(live, ["tcant.meals"], at(29, 12, 0))
    assert sunday["tcant.meals"]["last_comparable"] == {"day": "20261128", "value": None}
    assert sunday["tcant.meals"]["last_week"] == {"day": "20261122", "value": 1.0}


def test_wire_keeps_text_and_numbers_as_the_script_reads_them() -> None:
    import json
    from decimal import Decimal

    from streams.live_state import wire

    deltas = {"s": [["tcant.meals", "20260302", 600, 2.5]], "l": [["tgate.onsite", -1.0]],
              "x": [["canteen.queue", "窗口1", 1_700_000_000_000, 7],
                    ["vehicles.due", "V01", 1_700_000_000_001, {"plate": "京A·12345", "km": Decimal("12.5")}]],
              "src": [["sim.canteen", 1_700_000_000_001, 1, 2, 2]], "n": 2}
    text = wire(deltas).decode()
    assert "窗口1" in text and "京A·12345" in text  # UTF-8, not \u escapes
    back = json.loads(text)
    assert back["s"] == deltas["s"] and back["l"] == deltas["l"] and back["src"] == deltas["src"]
    assert [json.loads(v) for *_k, v in back["x"]] == [7, {"plate": "京A·12345", "km": 12.5}]
