"""Real-time feed from the built-in simulators into the producer.

Behaves like a well-behaved source system: each step sends the events of the elapsed
window; when Redis refuses, the events are kept (bounded) and re-sent, and the per-source
sequence number continues across restarts (kept in Redis), so gaps mean real loss.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping

import redis

from datasources.base import Event, Simulator
from streams.producer import Producer, Unavailable

log = logging.getLogger(__name__)

MAX_BUFFER = 500_000


def seq_key(source: str) -> str:
    return f"sim:seq:{source}"


def stored_seq(r: redis.Redis, source: str) -> int:
    return int(r.get(seq_key(source)) or 0)


class SimFeed:
    def __init__(self, producer: Producer, sims: Mapping[str, Simulator], *, step_s: float = 1.0,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.producer = producer
        self.sims = dict(sims)
        self.step_s = step_s
        self.clock = clock
        self.buffer: deque[Event] = deque()
        self.cursor = clock()
        self.sent = 0
        self.dropped = 0

    def step(self) -> int:
        """Generate the window since the last step and send it with anything still buffered."""
        now = self.clock()
        streams = [sim.events_between(self.cursor, now) for sim in self.sims.values()]
        self.cursor = now
        self.buffer.extend(heapq.merge(*streams, key=lambda e: e.ts))
        while len(self.buffer) > MAX_BUFFER:
            self.buffer.popleft()
            self.dropped += 1
        sent = 0
        while self.buffer:
            chunk = [self.buffer[i] for i in range(min(2000, len(self.buffer)))]
            try:
                self.producer.submit(chunk)
            except Unavailable as exc:
                log.warning("simulator feed: %s; %d events buffered", exc, len(self.buffer))
                return sent
            for _ in chunk:
                self.buffer.popleft()
            self._remember_seq(chunk)
            sent += len(chunk)
        self.sent += sent
        return sent

    def _remember_seq(self, chunk: list[Event]) -> None:
        top: dict[str, int] = {}
        for ev in chunk:
            top[ev.source] = max(top.get(ev.source, 0), ev.seq)
        self.producer.r.mset({seq_key(s): v for s, v in top.items()})

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.step_s):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a feed hiccup must not end the simulated sources
                log.exception("simulator feed step failed")
