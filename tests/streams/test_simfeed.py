"""Simulator feed: windows are sent once, the cursor and sequence numbers resume after a restart."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
import redis

from datasources.registry import SYSTEMS, schemas
from domain.calendar import default_calendar
from domain.compound import build_compound
from streams.codec import Codec
from streams.producer import Producer
from streams.redis_conn import connect
from streams.simfeed import SimFeed, resume_point, stored_seq

TZ = ZoneInfo("Asia/Shanghai")
NOON = dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)  # 12:00 local on a working day
COMPOUND = build_compound(7)


def canteen(seq_start: int = 0):  # type: ignore[no-untyped-def]
    return SYSTEMS["canteen"].make_simulator(COMPOUND, default_calendar(), seed=1, tz=TZ, seq_start=seq_start)


def test_feed_sends_each_window_and_resumes_after_restart(r: redis.Redis) -> None:
    now = [NOON]
    producer = Producer(r, Codec(schemas().values()), max_past=dt.timedelta(days=3650), clock=lambda: now[0])
    feed = SimFeed(producer, {"canteen": canteen()}, start=NOON, clock=lambda: now[0])
    now[0] = NOON + dt.timedelta(minutes=5)
    first = feed.step()
    assert first > 0 and r.xlen("ev:canteen") == first
    last_seq = stored_seq(r, "sim.canteen")
    assert last_seq == first
    # a restart: the new feed starts from the saved cursor and continues the sequence
    start = resume_point(r, NOON + dt.timedelta(minutes=30), dt.timedelta(hours=6))
    assert start == NOON + dt.timedelta(minutes=5)
    now[0] = NOON + dt.timedelta(minutes=30)
    again = SimFeed(producer, {"canteen": canteen(last_seq)}, start=start, clock=lambda: now[0])
    second = again.step()
    seqs = [int(msgspec.json.decode(f[b"e"])["seq"]) for _i, f in r.xrange("ev:canteen")]
    assert seqs == list(range(1, first + second + 1))  # no gap, no repeat across the restart
    assert resume_point(r, NOON + dt.timedelta(days=2), dt.timedelta(hours=6)) == \
        NOON + dt.timedelta(days=2) - dt.timedelta(hours=6)


def test_refused_events_stay_buffered_until_redis_is_back(r: redis.Redis) -> None:
    now = [NOON + dt.timedelta(minutes=2)]
    dead = Producer(connect("redis://127.0.0.1:1/0"), Codec(schemas().values()), max_past=dt.timedelta(days=3650),
                    clock=lambda: now[0])
    feed = SimFeed(dead, {"canteen": canteen()}, start=NOON, clock=lambda: now[0])
    assert feed.step() == 0 and len(feed.buffer) > 0
    held = len(feed.buffer)
    feed.producer = Producer(r, Codec(schemas().values()), max_past=dt.timedelta(days=3650), clock=lambda: now[0])
    assert feed.step() == held and r.xlen("ev:canteen") == held and not feed.buffer
