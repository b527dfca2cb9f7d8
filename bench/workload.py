"""The events the benches feed: the schemas a bench runs on, their KPI extractors, and realistic events.

The real registry's schemas, simulators and extractors when `datasources.registry` and
`analytics.metrics` import, else the small test schemas in tests/streams/schemas.py (a realistic
mix of meals and gate passes); the workload names the kind used and why, so every output can.
The ingest bench takes history from the simulators run over the last days; the push and memory
benches take the same events moved to the present (`restamp`), because they measure latency from
each event's `ts`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from datasources.base import Event, make_key
from streams.codec import Codec, stream_of

TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Workload:
    """The event schemas a bench runs on, their extractors, and a generator of realistic events."""

    kind: str  # "registry" (the real systems and simulators) or "test" (tests/streams/schemas.py)
    note: str  # why this kind was chosen (the registry's import error, if any)
    structs: list[type[Event]]
    systems: dict[str, Any] = field(default_factory=dict)  # registry only: name -> SystemSpec

    @property
    def streams(self) -> list[str]:
        return sorted({stream_of(s.schema_name().split(".", 1)[0]) for s in self.structs})

    def codec(self) -> Codec:
        return Codec(self.structs)

    def tables(self):  # type: ignore[no-untyped-def]
        from warehouse.facts import FactTables

        return FactTables(self.structs)

    def expect(self) -> dict[str, float]:
        """Expected interval per system (what the /live snapshot reports as `expect`)."""
        if self.systems:
            return {s.name: s.expected_interval_s for s in self.systems.values()}
        return {"tcant": 60.0, "tgate": 60.0}

    def deltas(self) -> Callable[[list[Event]], dict]:
        from analytics.deltas import fold

        return lambda evs: fold(evs, TZ).to_wire()

    # history: a time-ordered batch of events ending now (ingest bench)
    def events(self, n: int, *, end: dt.datetime | None = None, seed: int = 1) -> list[Event]:
        end = end or dt.datetime.now(dt.UTC).replace(microsecond=0)
        if self.kind == "registry":
            return _registry_events(self.systems, n, end, seed)
        span = dt.timedelta(seconds=max(n / 100.0, 60.0))  # ~100 events/s of history
        return list(_test_events(n, end - span, end, random.Random(seed)))

    def live_factory(self, seed: int = 2) -> Callable[[int, dt.datetime], list[Event]]:
        """`make(count, now)`: `count` events stamped `now` (their XADD wall time) with fresh keys and
        per-source sequence numbers, for the push and memory benches."""
        rng = random.Random(seed)
        if self.kind == "test":
            seqs: dict[str, int] = defaultdict(int)

            def make_test(count: int, now: dt.datetime) -> list[Event]:
                return [_test_event(rng, now, seqs) for _ in range(count)]

            return make_test
        pool = _registry_events(self.systems, 50_000, dt.datetime.now(dt.UTC).replace(microsecond=0), seed)
        seqs = defaultdict(int)
        cursor = [0]
        skipped = [0]

        def make_registry(count: int, now: dt.datetime) -> list[Event]:
            out: list[Event] = []
            while len(out) < count:
                ev = pool[cursor[0] % len(pool)]
                cursor[0] += 1
                try:
                    moved = restamp(ev, now, seqs[ev.source] + 1)
                except ValueError:  # a schema rule the shift breaks (rare); leave that event out
                    skipped[0] += 1
                    if skipped[0] > 1000 and skipped[0] > cursor[0] // 2:
                        raise
                    continue
                seqs[ev.source] += 1
                out.append(moved)
            return out

        return make_registry


_TIME_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _time_fields(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(datetime fields other than ts, date fields) of an event Struct."""
    import msgspec.inspect as mi

    found = _TIME_FIELDS.get(cls)
    if found is None:
        def kinds(t: Any) -> set[type]:
            return {type(u) for u in t.types} if isinstance(t, mi.UnionType) else {type(t)}

        fields = mi.type_info(cls).fields  # type: ignore[union-attr]
        found = (tuple(f.name for f in fields if f.name != "ts" and mi.DateTimeType in kinds(f.type)),
                 tuple(f.name for f in fields if mi.DateType in kinds(f.type)))
        _TIME_FIELDS[cls] = found
    return found


def restamp(ev: Event, now: dt.datetime, seq: int) -> Event:
    """The event moved to `now`: `ts` = now, a fresh time-ordered key, `seq`; its other times move by the
    same amount (dates by the same number of local days), so the schema's own rules still hold."""
    stamps, dates = _time_fields(type(ev))
    changes: dict[str, Any] = {"ts": now, "key": make_key(now), "seq": seq}
    if stamps or dates:
        delta = now - ev.ts
        days = now.astimezone(TZ).date() - ev.ts.astimezone(TZ).date()
        for f in stamps:
            v = getattr(ev, f)
            if v is not None:
                changes[f] = v + delta
        for f in dates:
            v = getattr(ev, f)
            if v is not None:
                changes[f] = v + days
    return msgspec.structs.replace(ev, **changes)


def load_workload(kind: str = "auto") -> Workload:
    """The real registry when it imports (and kind allows), else the test schemas."""
    note = ""
    if kind in ("auto", "registry"):
        try:
            import analytics.metrics  # noqa: F401 - registers the real KPI extractors
            from datasources.registry import SYSTEMS, schemas

            return Workload("registry", "datasources.registry imported", list(schemas().values()), dict(SYSTEMS))
        except Exception as exc:  # noqa: BLE001 - the registry is being finished; anything may fail
            if kind == "registry":
                raise
            note = f"datasources.registry does not import ({type(exc).__name__}: {exc}); using the test schemas"
    from tests.streams.schemas import Gate, Meal  # registers the test extractors

    return Workload("test", note or "test schemas requested", [Meal, Gate])


_PRICES = [Decimal(p) for p in ("3.00", "5.50", "8.00", "12.50", "15.00", "18.80", "22.00", "26.50", "35.00")]
_METHODS = ("card", "card", "card", "face", "face", "tray")
_TEST_SOURCES = {"tcant": ("t.cant.north", "t.cant.south"), "tgate": ("t.gate.east", "t.gate.west", "t.gate.p1")}


def _test_event(rng: random.Random, ts: dt.datetime, seqs: dict[str, int]) -> Event:
    from tests.streams.schemas import Gate, Meal

    if rng.random() < 0.55:
        source = rng.choice(_TEST_SOURCES["tcant"])
        seqs[source] += 1
        return Meal(source=source, ts=ts, key=make_key(ts), seq=seqs[source],
                    person_id=f"P{rng.randrange(1, 3001):05d}", amount=rng.choice(_PRICES),
                    method=rng.choice(_METHODS))  # type: ignore[arg-type]
    source = rng.choice(_TEST_SOURCES["tgate"])
    seqs[source] += 1
    return Gate(source=source, ts=ts, key=make_key(ts), seq=seqs[source], gate_id=f"GP{rng.randrange(1, 17):02d}",
                direction="in" if rng.random() < 0.52 else "out", queue=float(rng.randrange(0, 25)))  # type: ignore[arg-type]


def _test_events(n: int, start: dt.datetime, end: dt.datetime, rng: random.Random) -> Iterator[Event]:
    seqs: dict[str, int] = defaultdict(int)
    step = (end - start) / max(n, 1)
    for i in range(n):
        yield _test_event(rng, start + step * i, seqs)


def _registry_events(systems: dict[str, Any], n: int, end: dt.datetime, seed: int) -> list[Event]:
    """n events of the real simulators, all systems merged in time order, ending at `end`.

    The simulators follow a daily rhythm; we run them over the days before `end` and raise the
    rate until the window yields n events, then keep the newest n.
    """
    import heapq

    from domain.calendar import default_calendar
    from domain.compound import build_compound

    compound, cal = build_compound(7), default_calendar()
    days, rate = 1, 1.0
    while True:
        start = end - dt.timedelta(days=days)
        streams = []
        for name, spec in systems.items():
            sim = spec.make_simulator(compound, cal, seed=seed, rate=rate, tz=TZ, source=f"sim.{name}", seq_start=0)
            streams.append(list(sim.events_between(start, end)))
        merged = list(heapq.merge(*streams, key=lambda e: e.ts))
        if len(merged) >= n:
            return merged[-n:]
        if days < 7:
            days = 7
        else:
            rate *= max(2.0, 1.2 * n / max(len(merged), 1))
