"""Real-time feed from the built-in simulators into the producer.

Behaves like a well-behaved source system: each step sends the events of the elapsed
window; when Redis refuses, the events are kept (bounded) and re-sent. The window cursor
and each source's sequence number are saved together once a step's events are all
accepted, so a restarted feed resumes where it stopped: the simulated world is
deterministic, so anything re-sent after a crash is the same event with the same key and
sequence number, which the warehouse drops as a duplicate, and downtime is caught up.
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
CURSOR = "sim:cursor"
CHUNK = 2000


def seq_key(source: str) -> str:
    return f"sim:seq:{source}"


def stored_seq(r: redis.Redis, source: str) -> int:
    return int(r.get(seq_key(source)) or 0)


def resume_point(r: redis.Redis, now: dt.datetime, max_catchup: dt.timedelta) -> dt.datetime:
    """Where the feed continues: the saved cursor, but never further back than max_catchup."""
    raw = r.get(CURSOR)
    if raw is None:
        return now
    saved = dt.datetime.fromtimestamp(int(raw) / 1000, dt.UTC)
    return min(max(saved, now - max_catchup), now)


def save_cursor(r: redis.Redis, at: dt.datetime, seqs: Mapping[str, int] | None = None) -> None:
    """The feed's position and its sources' sequence numbers, written together."""
    r.mset({CURSOR: int(at.timestamp() * 1000), **{seq_key(s): v for s, v in (seqs or {}).items()}})


class SimFeed:
    def __init__(self, producer: Producer, sims: Mapping[str, Simulator], *, start: dt.datetime,
                 step_s: float = 1.0, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.producer = producer
        self.sims = dict(sims)
        self.step_s = step_s
        self.clock = clock
        self.buffer: deque[Event] = deque()
        self.cursor = start
        self.seqs: dict[str, int] = {}
        self.sent = 0
        self.dropped = 0

    def step(self) -> int:
        """Generate the window since the last step and send it with anything still buffered."""
        now = self.clock()
        if now > self.cursor:
            streams = [sim.events_between(self.cursor, now) for sim in self.sims.values()]
            self.cursor = now
            self.buffer.extend(heapq.merge(*streams, key=lambda e: e.ts))
        while len(self.buffer) > MAX_BUFFER:
            self.buffer.popleft()
            self.dropped += 1
        sent = 0
        while self.buffer:
            chunk = [self.buffer[i] for i in range(min(CHUNK, len(self.buffer)))]
            try:
                self.producer.submit(chunk)
            except Unavailable as exc:
                log.warning("simulator feed: %s; %d events buffered", exc, len(self.buffer))
                return sent
            for ev in chunk:
                self.buffer.popleft()
                self.seqs[ev.source] = max(self.seqs.get(ev.source, 0), ev.seq)
            sent += len(chunk)
        save_cursor(self.producer.r, self.cursor, self.seqs)
        self.sent += sent
        return sent

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.step_s):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a feed hiccup must not end the simulated sources
                log.exception("simulator feed step failed")
