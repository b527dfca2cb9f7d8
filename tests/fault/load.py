"""The load of the fault tests: canteen meals and gate passes, and a producer that submits them.

Events use the small test schemas (tests/streams/schemas.py), the codec and the stream layout
the worker processes consume; every submit call is recorded in a `Ledger`.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from datasources.base import Event, make_key
from streams.codec import Codec
from streams.producer import Producer, Unavailable
from streams.redis_conn import connect
from tests.fault.ledger import Ledger, Op
from tests.streams.schemas import Gate, Meal

CODEC = Codec([Meal, Gate])
STREAMS = ["ev:tcant", "ev:tgate"]
GROUP = "warehouse"


class EventMaker:
    """Canteen meals and gate passes, time-ordered keys, per-source sequences; person `poison` is special."""

    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        self.seq: collections.Counter[str] = collections.Counter()
        self.last_ms = 0

    def _ts(self, now: dt.datetime | None) -> dt.datetime:
        # strictly increasing event times: "newest value" in live state is then order-independent
        ms = max(int((now or dt.datetime.now(dt.UTC)).timestamp() * 1000), self.last_ms + 1)
        self.last_ms = ms
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

    def meal(self, now: dt.datetime | None = None, person: str | None = None) -> Meal:
        ts = self._ts(now)
        self.seq["t.cant"] += 1
        return Meal(source="t.cant", ts=ts, key=make_key(ts), seq=self.seq["t.cant"],
                    person_id=person or f"P{self.rng.randrange(1, 3000):05d}",
                    amount=Decimal(self.rng.randrange(300, 3500)) / 100,
                    method=self.rng.choice(("card", "face", "tray")))

    def gate(self, now: dt.datetime | None = None) -> Gate:
        ts = self._ts(now)
        self.seq["t.gate"] += 1
        return Gate(source="t.gate", ts=ts, key=make_key(ts), seq=self.seq["t.gate"],
                    gate_id=f"GP{self.rng.randrange(1, 9):02d}", direction=self.rng.choice(("in", "in", "out")),
                    queue=float(self.rng.randrange(0, 40)))

    def batch(self, n: int, now: dt.datetime | None = None) -> list[Event]:
        return [self.meal(now) if self.rng.random() < 0.6 else self.gate(now) for _ in range(n)]


class Load(threading.Thread):
    """A producer at a steady rate: `rate` events/s in pipelines of `batch`, every call in the ledger.

    After an outage it does not burst to catch up: a source that got 503 would retry its own
    events, which the tests that need it do explicitly.
    """

    def __init__(self, producer: Producer, ledger: Ledger, maker: EventMaker, *, rate: float = 2000,
                 batch: int = 100, make: Callable[[int], list[Event]] | None = None):
        super().__init__(name="load", daemon=True)
        self.producer, self.ledger, self.maker = producer, ledger, maker
        self.rate, self.size = rate, batch
        self.make = make or maker.batch
        self.stop_event = threading.Event()
        self.inject: list[Event] = []  # extra events to send with the next batch
        self.accepted = 0
        self.refused = 0
        self.errors = 0

    def run(self) -> None:
        interval = self.size / self.rate
        next_t = time.monotonic()
        while not self.stop_event.is_set():
            evs = self.make(self.size)
            if self.inject:
                evs, self.inject = evs + self.inject, []
            t0 = time.monotonic()
            try:
                self.producer.submit(evs)
                self.ledger.record(Op([e.key for e in evs], t0, time.monotonic(), "ok"))
                self.accepted += len(evs)
            except Unavailable as exc:
                self.ledger.record(Op([e.key for e in evs], t0, time.monotonic(), "refused", str(exc)[:200]))
                self.refused += len(evs)
            except Exception as exc:  # noqa: BLE001 - an unexpected outcome is an unknown, never dropped
                self.ledger.record(Op([e.key for e in evs], t0, time.monotonic(), "error", repr(exc)[:200]))
                self.errors += len(evs)
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                self.stop_event.wait(delay)
            elif delay < -1.0:
                next_t = time.monotonic()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)


def producer_for(url: str) -> Producer:
    return Producer(connect(url), CODEC)


def submit_all(producer: Producer, events: Sequence[Event], ledger: Ledger, batch: int = 500) -> None:
    """Submit in batches; any refusal raises (the caller expects Redis up), every accepted batch is ok."""
    for i in range(0, len(events), batch):
        chunk = list(events[i:i + batch])
        t0 = time.monotonic()
        producer.submit(chunk)
        ledger.record(Op([e.key for e in chunk], t0, time.monotonic(), "ok"))


def keys_of(events: Iterable[Event]) -> set[str]:
    return {e.key for e in events}
