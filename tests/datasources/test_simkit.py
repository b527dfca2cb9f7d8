"""The simulator kit: engine contract, rhythm helpers and shared rules."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from datasources import canteen, energy, onecard, passage, vehicles
from datasources.base import Event, SchemaError, key_at, key_ms, make_key
from datasources.simkit import (
    Bump,
    Curve,
    Day,
    HourlySimulator,
    copies,
    curve,
    hm,
    keep_rosters,
    own_fields,
    poisson,
    rng_for,
    roster,
    stagger,
    stagger_lists,
    ticks,
)
from datasources.vendorkit import check_money, time_getter
from domain.calendar import default_calendar
from tests.datasources.sim_checks import HOLIDAY, TZ, WORKDAY, compound, local_start


class Ping(Event, tag="test.ping", frozen=True, kw_only=True):
    n: int


class Pinger(HourlySimulator):
    """Two pings an hour, one of them echoed 90 minutes later (an event that lands in a later hour)."""

    system = "test"

    def hour(self, day: Day, t0: float, t1: float) -> None:
        n = self.rng.randrange(1000)
        self.emit(t0 + self.rng.uniform(0, 3600), Ping, {"n": n})
        self.emit(t0 + 5400, Ping, {"n": -n})


class Backwards(HourlySimulator):
    system = "test"

    def hour(self, day: Day, t0: float, t1: float) -> None:
        self.emit(t0 - 1, Ping, {"n": 0})


class Pong(Event, tag="test.pong", frozen=True, kw_only=True):
    n: int
    note: str = "-"


class RowPinger(Pinger):
    """Pinger's pings as rows (`emit_rows`) instead of dicts, and a pong a minute into the hour if asked."""

    pong = False

    def hour(self, day: Day, t0: float, t1: float) -> None:
        n = self.rng.randrange(1000)
        self.emit_rows([t0 + self.rng.uniform(0, 3600), t0 + 5400], Ping, [(n,), (-n,)])
        if self.pong:
            self.emit_rows([t0 + 60], Pong, [(n, "row")])


def pinger(**kw: Any) -> Pinger:
    return Pinger(compound(), default_calendar(), seed=1, tz=TZ, **kw)


def collect(sim: HourlySimulator, start: dt.datetime, step: dt.timedelta, n: int) -> list[Event]:
    return [e for k in range(n) for e in sim.events_between(start + k * step, start + (k + 1) * step)]


def test_output_does_not_depend_on_how_time_is_cut() -> None:
    start = local_start(WORKDAY) + dt.timedelta(hours=5, minutes=17)
    whole = collect(pinger(), start, dt.timedelta(hours=10), 1)
    cut = collect(pinger(), start, dt.timedelta(minutes=6), 100)
    assert len(whole) > 15 and whole == cut
    assert [e.seq for e in whole] == list(range(1, len(whole) + 1))
    assert all(a.ts <= b.ts for a, b in zip(whole, whole[1:]))
    assert any(e.n < 0 for e in whole)  # echoes from earlier hours arrive in order


def test_rows_give_the_events_dicts_give() -> None:
    start, step = local_start(WORKDAY), dt.timedelta(minutes=25)
    rows = collect(RowPinger(compound(), default_calendar(), seed=1, tz=TZ), start, step, 20)
    assert len(rows) > 10 and rows == collect(pinger(), start, step, 20)  # same draws, keys, seq, order
    both = RowPinger(compound(), default_calendar(), seed=1, tz=TZ)
    both.pong = True
    mixed = collect(both, start, step, 20)
    pongs = [e for e in mixed if isinstance(e, Pong)]
    assert len(pongs) == 9 and {e.note for e in pongs} == {"row"}  # one per hour begun in 8h20m
    assert [e.seq for e in mixed] == list(range(1, len(mixed) + 1))
    assert own_fields(Pong) == ("n", "note")


def test_stagger_lists_unzip_the_grid() -> None:
    times, at = stagger_lists(1000.0, 1900.0, 300.0, 4)  # 4 devices, 75 s apart, every 5 minutes
    assert list(zip(times, at)) == list(stagger(1000.0, 1900.0, 300.0, 4))
    assert at == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] and times[:4] == [1200.0, 1500.0, 1800.0, 1275.0]


def test_rows_must_hold_every_own_field() -> None:
    sim = pinger()
    with pytest.raises(ValueError, match=r"Pong rows must be tuples of 2 fields \('n', 'note'\), got \(1,\)"):
        sim.emit_rows([0.0], Pong, [(1,)])
    with pytest.raises(ValueError, match="shorter"):  # a time without its row
        sim.emit_rows([0.0, 1.0], Pong, [(1, "a")])


def test_the_world_starts_at_local_midnight_and_continues_through_gaps() -> None:
    start = local_start(WORKDAY)
    early = collect(pinger(), start, dt.timedelta(hours=8), 1)
    late = collect(pinger(), start + dt.timedelta(hours=3), dt.timedelta(hours=5), 1)
    skipped = [e for e in early if e.ts < start + dt.timedelta(hours=3)]
    assert late == [msgspec.structs.replace(e, seq=e.seq - len(skipped)) for e in early[len(skipped):]]
    sim = pinger(seq_start=10)
    first = collect(sim, start, dt.timedelta(hours=1), 1)
    after_gap = collect(sim, start + dt.timedelta(hours=5), dt.timedelta(hours=3), 1)
    assert first[0].seq == 11 and after_gap[0].seq == first[-1].seq + 1
    assert [e.n for e in after_gap] == [e.n for e in early if e.ts >= start + dt.timedelta(hours=5)]


def test_windows_must_not_go_back_and_must_carry_a_zone() -> None:
    sim, start = pinger(), local_start(WORKDAY)
    list(sim.events_between(start, start + dt.timedelta(hours=2)))
    with pytest.raises(ValueError, match="windows must not go back in time"):
        sim.events_between(start + dt.timedelta(hours=1), start + dt.timedelta(hours=3))
    with pytest.raises(ValueError, match="start and end must be time-zone aware"):
        sim.events_between(dt.datetime(2025, 3, 4), dt.datetime(2025, 3, 5))


def test_emitting_into_the_past_is_a_bug() -> None:
    sim = Backwards(compound(), default_calendar(), seed=1, tz=TZ)
    start = local_start(WORKDAY)
    with pytest.raises(RuntimeError, match="Backwards emitted an event before the hour it was generating"):
        list(sim.events_between(start, start + dt.timedelta(hours=1)))


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="rate must be > 0, got 0"):
        pinger(rate=0)
    with pytest.raises(ValueError, match="anomaly_p must be within 0..1, got 2"):
        pinger(anomaly_p=2)
    assert pinger(rate=4).device_period(600) == 150 and pinger(rate=0.5).device_period(600) == 600


@pytest.mark.parametrize("spec", [s.SPEC for s in (canteen, onecard, passage, vehicles, energy)],
                         ids=lambda s: s.name)
def test_systems_do_not_depend_on_window_cuts(spec: Any) -> None:
    start = local_start(WORKDAY) + dt.timedelta(hours=11)
    make = lambda: spec.make_simulator(compound(), default_calendar(), seed=2, tz=TZ)  # noqa: E731
    whole = collect(make(), start, dt.timedelta(hours=2), 1)
    assert whole and whole == collect(make(), start, dt.timedelta(seconds=97), 75)[: len(whole)]


def test_curve_shapes_and_sampling() -> None:
    lunch = curve(Bump("12:00", 15, lo="11:30", hi="13:00"))
    assert lunch is curve(Bump("12:00", 15, lo="11:30", hi="13:00"))  # cached
    assert sum(lunch.share) == pytest.approx(1.0) and lunch.share[hm("11:29")] == 0
    rng = random.Random(1)
    times = [lunch.sample(rng) for _ in range(2000)]
    assert all(hm("11:30") * 60 <= t < hm("13:00") * 60 for t in times)
    assert abs(statistics.median(times) - 12 * 3600) < 120
    arrivals = lunch.arrivals(rng, 1000, 11 * 3600, 12 * 3600)
    assert arrivals == sorted(arrivals) and all(11 * 3600 <= t < 12 * 3600 for t in arrivals)
    assert 400 < len(arrivals) < 600
    with pytest.raises(ValueError, match="a curve needs 1440 non-negative per-minute weights"):
        Curve([0.0] * 1440)


def test_poisson_copies_ticks_and_seeding() -> None:
    rng = random.Random(2)
    for lam in (0.3, 4.0, 200.0):
        assert statistics.mean(poisson(rng, lam) for _ in range(4000)) == pytest.approx(lam, rel=0.06)
    assert statistics.mean(copies(rng, 2.3) for _ in range(4000)) == pytest.approx(2.3, rel=0.03)
    assert list(ticks(100.0, 400.0, 100.0, 30.0)) == [130.0, 230.0, 330.0]
    assert rng_for(7, "canteen").random() == rng_for(7, "canteen").random() != rng_for(7, "onecard").random()


def test_roster_is_shared_and_follows_the_day() -> None:
    work = roster(compound(), default_calendar(), 1, WORKDAY)
    assert work == roster(compound(), default_calendar(), 1, WORKDAY)
    assert 0.88 < len(work.person) / len(compound().people) < 0.96
    assert all(a < b for a, b in zip(work.arrive, work.leave))
    peak = sum(1 for a in work.arrive if 8 * 3600 <= a < 9 * 3600)
    assert peak > 0.5 * len(work.person)
    on_site = work.on_site()
    assert on_site[hm("03:00")] == 0 and on_site[hm("10:00")] > 0.85 * len(work.person)
    holiday = roster(compound(), default_calendar(), 1, HOLIDAY)
    assert 0 < len(holiday.person) < 0.1 * len(work.person)


def test_rosters_are_kept_without_changing_them() -> None:
    drawn = [roster(compound(), default_calendar(), 1, WORKDAY + dt.timedelta(days=i)) for i in range(6)]
    keep_rosters(10)
    try:
        kept = [roster(compound(), default_calendar(), 1, WORKDAY + dt.timedelta(days=i)) for i in range(6)]
        assert kept == drawn
        assert roster(compound(), default_calendar(), 1, WORKDAY) is kept[0]  # kept, not drawn again
        mine = kept[0].on_site()
        mine[600] = -1  # a caller's own copy: the kept roster's minutes are not changed
        assert kept[0].on_site()[600] == drawn[0].on_site()[600] > 0
        other = roster(compound(), default_calendar(), 2, WORKDAY)  # another seed is another roster
        assert other.arrive != kept[0].arrive
    finally:
        keep_rosters(4)


def test_engine_keys_follow_the_key_rule() -> None:
    sim, start = pinger(), local_start(WORKDAY)
    records = list(sim.records_between(start, start + dt.timedelta(hours=6)))
    assert records and all(len(key) == 32 and int(key[:12], 16) == t_ms for t_ms, key, *_ in records)
    assert key_ms(1_717_000_000_123, 5) == key_at(1_717_000_000.123, 5) == make_key(
        dt.datetime.fromtimestamp(1_717_000_000.123, dt.UTC), 5)
    assert [k for _, k, *_ in records] == sorted(k for _, k, *_ in records)
    # 32 lowercase hex digits, leading zeros kept, each part cut to its width
    assert key_ms(1, 0) == "000000000001" + "0" * 20 and key_ms(0, 0xABC) == "0" * 29 + "abc"
    assert key_ms(2**48 + 7, 2**80 + 9) == "000000000007" + "0" * 19 + "9"
    assert key_ms(2**48 - 1, 2**80 - 1) == "f" * 32


def test_money_rule_and_time_getter() -> None:
    check_money("amount", Decimal("12.50"))
    with pytest.raises(SchemaError, match="amount 12.505 CNY has more than 2 decimals"):
        check_money("amount", Decimal("12.505"))
    with pytest.raises(SchemaError, match="price 1000 CNY must be at least 0 and below 1000"):
        check_money("price", Decimal("1000"), Decimal(1000))
    get = time_getter("qcsj")
    assert get({"qcsj": "2025-03-04 12:00:00"}) == dt.datetime(2025, 3, 4, 12, tzinfo=TZ)
    with pytest.raises(SchemaError, match="missing field 'qcsj'"):
        get({"qcsj": ""})
