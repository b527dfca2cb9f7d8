"""Shared kit of the access-layer simulators: the engine that turns a world into windows, and daily rhythm.

Ten systems need the same answers (a seeded world that continues across windows, a rhythm by
kind of day, who is on site, Poisson arrivals, device heartbeats, a load multiplier), so they
live here once and a fix lands in every system. Vendor records (and the money rule of the
schemas) are datasources.vendorkit's job.

Simulators: subclass `HourlySimulator`, set `system`, implement `hour(day, t0, t1)` (and
`start_day(day)` for daily plans) and call `self.emit(t, EventCls, fields)` with t in epoch
seconds, or, for a grid of devices reporting together, `self.emit_rows(times, EventCls, rows)` with
each row the class's own fields in order (`own_fields`): no dict per event, and the backfill copies
such a row straight into its fact row. The engine generates one local hour at a time, keeps a
time-sorted buffer (an event may land in a later hour, e.g. a settlement after a queue), numbers
(seq) and keys (`key_ms`) the events it yields and cuts them to the requested windows
(`records_between` yields the same events unbuilt, for the backfill). The world starts at local
midnight of the first window's day; output depends on the seed and on how far windows have reached, not on
how time is cut into windows. Rhythm: `Day`, `Curve`/`Bump`, `roster()` (who is on site;
`Roster.on_site()` per minute), `poisson`, `ticks` and `stagger`/`stagger_lists` (heartbeats of one device or a
staggered grid of them), `rng_for` (stable seeding). Load: `rate` multiplies people
(`copies(rng, rate)` per planned act) and devices alike (`self.device_period(base_s)` reports
rate times as often when rate > 1), so rate=100 gives about 100x the events.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from operator import itemgetter
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import msgspec.structs

from datasources.base import UTC, Event, key_ms
from datasources.vendorkit import SHANGHAI
from domain.calendar import DayKind, HolidayCalendar
from domain.compound import Compound

MINUTES = 1440


def rng_for(seed: int, *parts: object) -> random.Random:
    """A Random seeded from (seed, parts) through a stable hash, so runs agree across processes."""
    text = "|".join(str(p) for p in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big"))


@lru_cache(maxsize=256)  # a few dozen literals, read for every planned person and act
def hm(text: str) -> int:
    """Minute of day of "HH:MM" ("24:00" is 1440): curves and plans read like the domain notes."""
    h, m = text.split(":")
    return int(h) * 60 + int(m)


# --- rhythm -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Day:
    """One local day: its kind decides the rhythm; t0/t1 are its epoch-second bounds."""

    date: dt.date
    kind: DayKind
    t0: float
    t1: float

    @property
    def working(self) -> bool:
        return self.kind.is_working

    def at(self, hhmm: str) -> float:
        """Epoch seconds of a local wall time on this day."""
        return self.t0 + hm(hhmm) * 60.0


@dataclass(frozen=True)
class Bump:
    """A bell of relative weight `weight` centred at `at` with spread `sd_min`, cut to [lo, hi)."""

    at: str
    sd_min: float
    weight: float = 1.0
    lo: str = "00:00"
    hi: str = "24:00"


class Curve:
    """A per-minute intensity shape over a local day, for Poisson counts or for sampling times."""

    def __init__(self, weights: list[float]):
        if len(weights) != MINUTES or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("a curve needs 1440 non-negative per-minute weights with a positive sum")
        self.total = float(sum(weights))
        self.share = [w / self.total for w in weights]
        acc, cdf = 0.0, []
        for w in self.share:
            acc += w
            cdf.append(acc)
        self._cdf = cdf

    def sample(self, rng: random.Random) -> float:
        """Seconds after local midnight, drawn from the curve as a distribution."""
        u = rng.random() * self._cdf[-1]
        m = min(bisect.bisect_right(self._cdf, u), MINUTES - 1)
        return (m + rng.random()) * 60.0

    def arrivals(self, rng: random.Random, total: float, lo_s: float, hi_s: float) -> list[float]:
        """Sorted Poisson arrival times (seconds after midnight) in [lo_s, hi_s), `total` expected per day."""
        out: list[float] = []
        share, rand = self.share, rng.random
        for m in range(int(lo_s // 60), min(MINUTES, math.ceil(hi_s / 60))):
            lam = share[m] * total
            if lam > 0:
                base = m * 60.0
                out.extend(sorted(base + rand() * 60.0 for _ in range(poisson(rng, lam))))
        return [t for t in out if lo_s <= t < hi_s]


@lru_cache(maxsize=256)
def curve(*bumps: Bump, base: float = 0.0) -> Curve:
    """A Curve made of bells plus a flat `base` weight per minute; cached, so build it where used."""
    w = [base] * MINUTES
    for b in bumps:
        mu, lo, hi = hm(b.at), hm(b.lo), hm(b.hi)
        cells = [math.exp(-0.5 * ((m + 0.5 - mu) / b.sd_min) ** 2) for m in range(lo, hi)]
        scale = b.weight / (sum(cells) or 1.0)
        for m, c in zip(range(lo, hi), cells):
            w[m] += c * scale
    return Curve(w)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson count (exact below 30, normal approximation above): the stdlib has none."""
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def copies(rng: random.Random, rate: float) -> int:
    """How many times a person-driven event happens at load multiplier `rate` (mean = rate)."""
    whole = int(rate)
    return whole + (rng.random() < rate - whole)


def ticks(t0: float, t1: float, period_s: float, offset_s: float = 0.0) -> Iterator[float]:
    """Times offset_s + k*period_s (epoch-aligned) in [t0, t1): device heartbeats and meter reads."""
    t = math.ceil((t0 - offset_s) / period_s) * period_s + offset_s
    while t < t1:
        yield t
        t += period_s


def stagger(t0: float, t1: float, period_s: float, count: int) -> Iterator[tuple[float, int]]:
    """(epoch time, device index) of `count` devices reporting every `period_s`, evenly staggered,
    in [t0, t1), device by device: the system is never silent longer than period_s / count."""
    spacing = period_s / count
    for i in range(count):
        for t in ticks(t0, t1, period_s, i * spacing):
            yield t, i


def stagger_lists(t0: float, t1: float, period_s: float, count: int) -> tuple[list[float], list[int]]:
    """`stagger` as (times, device indices): what `emit_rows` and a vectorised step take."""
    grid = list(stagger(t0, t1, period_s, count))
    return [t for t, _ in grid], [i for _, i in grid]


@dataclass(frozen=True)
class Roster:
    """Staff on site on one local day: compound.people indexes with arrival and leave times.

    Derived from (seed, day) only, so every system sees the same people come and go: a person's
    meals, door swipes and gate passes fall inside the same stay.
    """

    day: dt.date
    person: tuple[int, ...]
    arrive: tuple[float, ...]  # seconds after local midnight
    leave: tuple[float, ...]

    def on_site(self) -> list[int]:
        """Staff on site per local minute (1440 values): what energy use and occupancy follow."""
        return list(self._on_site)

    @cached_property
    def _on_site(self) -> tuple[int, ...]:
        diff = [0] * (MINUTES + 1)
        for a, b in zip(self.arrive, self.leave):
            diff[min(MINUTES, int(a // 60))] += 1
            diff[min(MINUTES, int(b // 60))] -= 1
        return tuple(itertools.accumulate(diff[:MINUTES]))


# (presence, arrival bell, share leaving late, share leaving early) by kind of day
_ROSTER_RULES = {
    True: (0.92, ("08:25", 18.0, "06:45", "10:30"), 0.15, 0.05),
    False: (0.04, ("09:00", 45.0, "07:00", "12:00"), 0.0, 0.0),
}


def roster(compound: Compound, calendar: HolidayCalendar, seed: int, day: dt.date) -> Roster:
    """Who comes in on `day` and when (DOMAIN.md: gates peak 08:00-09:00 and 17:30-18:30).

    Eight systems ask for the same day's roster; it depends only on the head count, the kind of
    day, the seed and the date, so recent days' rosters are kept (drawing them was a tenth of a
    backfill's simulation); `keep_rosters` widens that for a process that goes back in time."""
    return _rosters(len(compound.people), calendar.is_working(day), seed, day)


def keep_rosters(days: int) -> None:
    """Keep the rosters of up to `days` days (~170 KB each), for a backfill worker that runs one
    system over all days and then the next over the same days. Live processes keep a few."""
    global _rosters
    _rosters = lru_cache(maxsize=days)(_draw_roster)


def _draw_roster(people: int, working: bool, seed: int, day: dt.date) -> Roster:
    rng = rng_for(seed, "roster", day.isoformat())
    presence, (at, sd, lo, hi), late, early = _ROSTER_RULES[working]
    mu, lo_s, hi_s = hm(at) * 60.0, hm(lo) * 60.0, hm(hi) * 60.0
    person, arrive, leave = [], [], []
    for i in range(people):
        if rng.random() >= presence:
            continue
        a = min(hi_s, max(lo_s, rng.gauss(mu, sd * 60.0)))
        if not working:
            out = a + rng.uniform(3, 8) * 3600.0
        else:
            u = rng.random()
            if u < late:
                out = rng.uniform(18.75, 21.5) * 3600.0
            elif u < late + early:
                out = rng.uniform(15.0, 17.5) * 3600.0
            else:
                out = min(19 * 3600.0, max(17 * 3600.0, rng.gauss(17.95 * 3600.0, 15 * 60.0)))
        person.append(i)
        arrive.append(a)
        leave.append(max(out, a + 1800.0))
    return Roster(day, tuple(person), tuple(arrive), tuple(leave))


_rosters = lru_cache(maxsize=4)(_draw_roster)


# --- engine -------------------------------------------------------------------------------------

_T = itemgetter(0)
Record = tuple[int, str, int, type[Event], dict[str, Any] | tuple[Any, ...]]
"""One simulated event before it is built: (epoch ms, key, seq, Struct class, its own fields): a dict
of those given (`emit`), or a tuple of all of them in `own_fields` order (`emit_rows`)."""

_ENVELOPE = frozenset(f.name for f in msgspec.structs.fields(Event))


@cache
def own_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields an event class adds to the envelope, in declaration order: the order of an
    `emit_rows` row, and of the fact table's columns after the envelope's."""
    return tuple(f.name for f in msgspec.structs.fields(cls) if f.name not in _ENVELOPE)


class HourlySimulator:
    """The engine behind every built-in simulator (see the module docstring for the contract).

    Subclasses draw from `self.rng` only inside `start_day`/`hour`, and emit times >= t0 of the
    hour being generated (later hours are fine); the engine raises if a subclass emits into the past.
    """

    system: ClassVar[str]

    def __init__(self, compound: Compound, calendar: HolidayCalendar, *, seed: int, rate: float = 1.0,
                 tz: ZoneInfo = SHANGHAI, source: str | None = None, seq_start: int = 0,
                 anomaly_p: float = 0.02):
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if not 0 <= anomaly_p <= 1:
            raise ValueError(f"anomaly_p must be within 0..1, got {anomaly_p}")
        self.compound, self.calendar, self.tz = compound, calendar, tz
        self.seed, self.rate, self.anomaly_p = seed, rate, anomaly_p
        self.source = source or f"sim.{self.system}"
        self.rng = rng_for(seed, self.system)
        self._seq = seq_start
        self._buf: list[tuple[int, int, type[Event], Any]] = []
        self._pos = 0
        self._new: list[tuple[int, int, type[Event], Any]] = []
        self._day: Day | None = None
        self._next_ms: int | None = None  # start of the next hour to generate
        self._until_ms: int | None = None  # end of the last window asked for

    def start_day(self, day: Day) -> None:
        """Plan the day (who eats, which trips); called before its first hour."""

    def hour(self, day: Day, t0: float, t1: float) -> None:
        """Emit the events of [t0, t1), one local hour of `day` (epoch seconds)."""
        raise NotImplementedError

    def device_period(self, base_s: float, devices: int = 1, expected_interval_s: float | None = None) -> float:
        """A device's reporting period: `rate` times as often when rate > 1, so load tests scale heartbeats,
        queue snapshots and meter reads with people.

        Below rate 1 a device keeps `base_s`, so a source is never late. With `expected_interval_s`, the
        period of a grid of `devices` staggered devices (see `stagger`), it slows down with the rate too,
        but never so far that the grid leaves a gap near `expected_interval_s`."""
        if expected_interval_s is None:
            return base_s / max(1.0, self.rate)
        return min(base_s / self.rate, devices * expected_interval_s / 2)

    def anomaly(self) -> bool:
        """One draw of the configured anomaly probability."""
        return self.rng.random() < self.anomaly_p

    def emit(self, t: float, cls: type[Event], fields: dict[str, Any]) -> None:
        """Queue an event at epoch seconds t (rounded to the millisecond) with its own fields."""
        self._new.append((round(t * 1000), self.rng.getrandbits(80), cls, fields))

    def emit_rows(self, times: Iterable[float], cls: type[Event], rows: Iterable[tuple[Any, ...]]) -> None:
        """Queue one event per (epoch seconds, row), each row holding every one of `own_fields(cls)`
        in order, defaults included, as Python values (not numpy scalars): what a grid of devices
        reporting together emits, without a dict per event."""
        bits = self.rng.getrandbits
        new = [(round(t * 1000), bits(80), cls, row) for t, row in zip(times, rows, strict=True)]
        if new and (type(new[0][3]) is not tuple or len(new[0][3]) != len(own_fields(cls))):
            raise ValueError(f"{cls.__name__} rows must be tuples of {len(own_fields(cls))} fields "
                             f"{own_fields(cls)}, got {new[0][3]!r}")
        self._new += new

    def day_of(self, date: dt.date) -> Day:
        t0 = dt.datetime.combine(date, dt.time(), self.tz).timestamp()
        t1 = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), self.tz).timestamp()
        return Day(date, self.calendar.kind(date), t0, t1)

    def events_between(self, start: dt.datetime, end: dt.datetime) -> Iterator[Event]:
        """Events with start <= ts < end in time order; windows must not go back in time."""
        return map(self.event, self.records_between(start, end))

    def event(self, record: Record) -> Event:
        """The Event of one of this simulator's records."""
        t_ms, key, seq, cls, fields = record
        if type(fields) is tuple:
            fields = dict(zip(own_fields(cls), fields))
        return cls(source=self.source, ts=dt.datetime.fromtimestamp(t_ms / 1000, UTC), key=key, seq=seq, **fields)

    def records_between(self, start: dt.datetime, end: dt.datetime) -> Iterator[Record]:
        """What `events_between` builds its events from, as (t_ms, key, seq, cls, fields): the
        backfill writes fact rows straight from these (an Event costs more than the simulation)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be time-zone aware")
        s_ms, e_ms = round(start.timestamp() * 1000), round(end.timestamp() * 1000)
        if self._until_ms is not None and s_ms < self._until_ms:
            raise ValueError("windows must not go back in time: start is before the end of the previous window")
        self._until_ms = max(s_ms, e_ms)
        if self._next_ms is None:
            self._day = self.day_of(start.astimezone(self.tz).date())
            self._next_ms = round(self._day.t0 * 1000)
            self.start_day(self._day)
        return itertools.chain.from_iterable(self._stretches(s_ms, e_ms))

    def _stretches(self, s_ms: int, e_ms: int) -> Iterator[list[Record]]:
        """The window's records one generated stretch (up to an hour) at a time, each made by one
        list comprehension: a generator step per record cost as much as the simulation's own work.
        Position and seq advance a stretch at a time, so a window is meant to be read to its end
        (every caller does; one left unread is skipped by the next window in any case)."""
        while True:
            nxt = self._next_ms
            limit = e_ms if nxt is None or nxt >= e_ms else nxt  # beyond it: the next window, or generate first
            buf, pos = self._buf, self._pos
            end = bisect.bisect_left(buf, limit, pos, key=_T)
            first = bisect.bisect_left(buf, s_ms, pos, end, key=_T)
            self._pos, seq = end, self._seq
            if first < end:
                self._seq += end - first
                yield [(t_ms, key_ms(t_ms, rand), n, cls, fields)
                       for n, (t_ms, rand, cls, fields) in zip(itertools.count(seq + 1), buf[first:end])]
            if limit == e_ms:
                return
            self._generate()

    def _generate(self) -> None:
        assert self._day is not None and self._next_ms is not None
        day = self._day
        t0 = self._next_ms / 1000
        if t0 >= day.t1:
            day = self._day = self.day_of(day.date + dt.timedelta(days=1))
            self.start_day(day)
        t1 = min(t0 + 3600.0, day.t1)
        self.hour(day, t0, t1)
        self._next_ms = round(t1 * 1000)
        new, self._new = self._new, []
        if new and min(new, key=_T)[0] < round(t0 * 1000):
            raise RuntimeError(f"{type(self).__name__} emitted an event before the hour it was generating")
        rest = self._buf[self._pos:]
        rest.extend(new)
        rest.sort(key=_T)
        self._buf, self._pos = rest, 0

