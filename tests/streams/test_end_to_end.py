"""Simulators -> producer -> streams -> consumer -> warehouse and live state, reconciled exactly.

Accepted events = warehouse rows (one per key, duplicates included in what was sent);
rejected payloads = dead-letter entries; live totals = warehouse counts.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import Engine, func, select

import analytics.metrics  # noqa: F401 - registers the extractors
from analytics.deltas import fold
from datasources.registry import SYSTEMS, schemas
from domain.calendar import default_calendar
from domain.compound import build_compound
from streams.codec import DEAD_LETTER, Codec, stream_of
from streams.consumer import StreamConsumer
from streams.live_state import LiveState
from streams.producer import Accepted, Producer
from streams.simfeed import SimFeed
from tests.warehouse.conftest import db_url, engine  # noqa: F401 - shared database fixtures
from warehouse.facts import FactTables
from warehouse.schema import create_schema
from warehouse.sink import Sink

TZ = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 25, 3, 30, tzinfo=dt.UTC)  # 11:30 local on a working day: lunch and gates


@pytest.fixture
def tables() -> FactTables:
    return FactTables(schemas().values())


def test_simulated_lunch_hour_reconciles_exactly(r: redis.Redis, engine: Engine, tables: FactTables) -> None:  # noqa: F811
    create_schema(engine, tables)
    now = [START]
    codec = Codec(schemas().values())
    producer = Producer(r, codec, max_past=dt.timedelta(days=3650), clock=lambda: now[0])
    compound, cal = build_compound(7), default_calendar()
    sims = {n: s.make_simulator(compound, cal, seed=5, tz=TZ) for n, s in SYSTEMS.items()}
    feed = SimFeed(producer, sims, start=START, clock=lambda: now[0])
    for minutes in (10, 20, 30):
        now[0] = START + dt.timedelta(minutes=minutes)
        feed.step()
    accepted = feed.sent
    streams = [stream_of(name) for name in SYSTEMS]
    keys = [json.loads(f[b"e"])["key"] for s in streams for _i, f in r.xrange(s)]
    assert len(keys) == accepted and len(set(keys)) == accepted
    # a connector-style resend of 300 accepted events, and 25 malformed payloads
    resend = random.Random(1).sample(range(accepted), 300)
    entries = [f[b"e"] for s in streams for _i, f in r.xrange(s)]
    results = [producer.submit_raw(entries[i], origin="resend") for i in resend]
    assert all(isinstance(x, Accepted) for x in results)
    bad = [b'{"schema":"canteen.settlement"}', b"\xff", b"[]"] * 8 + [b'{"schema":"nope.x"}']
    rejected = sum(not isinstance(producer.submit_raw(b, origin="bad"), Accepted) for b in bad)

    consumer = StreamConsumer(r, Sink(engine, tables, tz=TZ), codec, LiveState(r, TZ),
                              lambda evs: fold(evs, TZ).to_wire(), streams=streams,
                              batch=500, block_ms=10)
    consumer.setup()
    while consumer.step():
        pass
    rows = {}
    with engine.connect() as conn:
        for ft in tables:
            rows[ft.schema] = conn.execute(select(func.count()).select_from(ft.table)).scalar_one()
            assert conn.execute(select(func.count(ft.table.c.key.distinct()))).scalar_one() == rows[ft.schema]
    assert sum(rows.values()) == accepted
    assert consumer.stats.duplicates == 300 and consumer.stats.new == accepted
    assert r.xlen(DEAD_LETTER) == rejected == len(bad)
    assert rows["canteen.settlement"] > 100  # it is lunch time
    live = LiveState(r, TZ)
    sums = live.sums(live.day_key(START))
    for name in SYSTEMS:
        assert sums.get(f"{name}.events", 0) == sum(n for s, n in rows.items() if s.startswith(name + "."))
    fed = {n for n in SYSTEMS if any(s.startswith(n + ".") and v for s, v in rows.items())}
    assert live.seq_gaps() == {f"sim.{n}": 0 for n in fed}
