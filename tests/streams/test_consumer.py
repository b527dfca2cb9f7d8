"""Consumer group worker against real Redis and real SQLite/PostgreSQL: exactly-once effect."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from analytics.deltas import fold
from streams.codec import DEAD_LETTER, Codec
from streams.consumer import StreamConsumer, is_infrastructure
from streams.live_state import LiveState
from streams.producer import Producer
from tests.streams.schemas import Gate, Meal, gate, meal
from tests.warehouse.conftest import db_url, engine  # noqa: F401,F811 - shared database fixtures
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.schema import create_schema
from warehouse.sink import Sink

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=30)
CODEC = Codec([Meal, Gate])
STREAMS = ["ev:tcant", "ev:tgate"]


@pytest.fixture
def tables() -> FactTables:
    return FactTables([Meal, Gate])


@pytest.fixture
def wh(engine: Engine, tables: FactTables) -> Engine:  # noqa: F811
    create_schema(engine, tables)
    return engine


def deltas(evs):  # type: ignore[no-untyped-def]
    return fold(evs, TZ).to_wire()


def make_consumer(r: redis.Redis, db: Engine, tables: FactTables, name: str = "c1", **kw) -> StreamConsumer:
    c = StreamConsumer(r, Sink(db, tables), CODEC, LiveState(r, TZ), kw.pop("deltas", deltas), streams=STREAMS,
                       name=name, batch=kw.pop("batch", 100), block_ms=50, **kw)
    c.setup()
    return c


def drain(c: StreamConsumer, rounds: int = 200) -> None:
    for _ in range(rounds):
        if c.step() == 0 and not any(c.r.xpending(s, c.group)["pending"] for s in c.streams):
            return
    raise AssertionError("consumer did not drain")


def count(db: Engine, tables: FactTables, schema: str) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(tables[schema].table)).scalar_one()


def workload():  # type: ignore[no-untyped-def]
    evs = [meal(T0 + dt.timedelta(seconds=i), i + 1) for i in range(250)]
    evs += [gate(T0 + dt.timedelta(seconds=i), i + 1, "in" if i % 4 else "out", float(i)) for i in range(120)]
    return evs


def test_accepted_events_land_once_and_live_state_matches(r: redis.Redis, wh: Engine, tables: FactTables) -> None:
    evs = workload()
    p = Producer(r, CODEC)
    p.submit(evs)
    p.submit(evs[:40] + evs[300:310])  # redelivered copies: same keys, new stream entries
    c = make_consumer(r, wh, tables)
    drain(c)
    assert count(wh, tables, "tcant.meal") == 250 and count(wh, tables, "tgate.pass") == 120
    assert c.stats.new == 370 and c.stats.duplicates == 50
    live = LiveState(r, TZ)
    day = live.day_key(T0)
    sums = live.sums(day)
    assert sums["tcant.meals"] == 250 and sums["tcant.events"] == 250 and sums["tgate.events"] == 120
    assert live.levels()["tgate.onsite"] == 90 - 30
    assert all(r.xpending(s, "warehouse")["pending"] == 0 for s in STREAMS)
    assert Sink(wh, tables).pending_outbox() == []


def test_a_stopped_consumer_commits_the_reply_it_read_ahead(r: redis.Redis, wh: Engine, tables: FactTables) -> None:
    import threading

    Producer(r, CODEC).submit([meal(T0 + dt.timedelta(seconds=i), i + 1) for i in range(250)])
    c = make_consumer(r, wh, tables)
    assert c.step() == 100  # commits the first 100 and starts reading the next reply
    stop = threading.Event()
    stop.set()
    c.run(stop)  # stops at once; what was read ahead is committed, nothing more is read
    assert count(wh, tables, "tcant.meal") == 200
    assert r.xpending("ev:tcant", "warehouse")["pending"] == 0
    live = LiveState(r, TZ)
    assert live.sums(live.day_key(T0))["tcant.meals"] == 200


def test_crash_after_commit_is_reapplied_once(r: redis.Redis, wh: Engine, tables: FactTables) -> None:
    evs = workload()[:100]
    Producer(r, CODEC).submit(evs)
    dying = make_consumer(r, wh, tables, name="dying")
    entries = r.xreadgroup("warehouse", "dying", {"ev:tcant": ">"}, count=100)[0][1]
    # the worker commits the batch, then dies before the live-state apply and XACK
    dying.sink.write_batch([CODEC.decode(f[b"e"]) for _i, f in entries], stream="ev:tcant", group="warehouse",
                           consumer="dying", last_id=entries[-1][0].decode(), deltas=deltas)
    survivor = make_consumer(r, wh, tables, name="survivor", claim_idle_ms=10)
    time.sleep(0.05)
    drain(survivor)
    assert count(wh, tables, "tcant.meal") == 100
    live = LiveState(r, TZ)
    assert live.sums(live.day_key(T0))["tcant.meals"] == 100
    assert survivor.stats.reclaimed == 100 and survivor.stats.duplicates == 100
    assert r.xpending("ev:tcant", "warehouse")["pending"] == 0


def test_poison_event_is_dead_lettered_after_max_tries(r: redis.Redis, wh: Engine, tables: FactTables) -> None:
    evs = workload()[:50]
    poison = evs[17].key

    def failing(new):  # type: ignore[no-untyped-def]
        if any(e.key == poison for e in new):
            raise ValueError("handler cannot process this event")
        return deltas(new)

    Producer(r, CODEC).submit(evs)
    c = make_consumer(r, wh, tables, deltas=failing, claim_idle_ms=10, max_tries=5)
    for _ in range(200):
        c.step()
        time.sleep(0.012)
        if r.xlen(DEAD_LETTER):
            break
    (_id, fields), = r.xrange(DEAD_LETTER)
    assert b"handler failed 5 times: ValueError: handler cannot process this event" == fields[b"reason"]
    assert CODEC.decode(fields[b"raw"]).key == poison
    assert count(wh, tables, "tcant.meal") == 49
    assert r.xpending("ev:tcant", "warehouse")["pending"] == 0
    live = LiveState(r, TZ)
    assert live.sums(live.day_key(T0))["tcant.meals"] == 49


class CountingSink(Sink):
    """The real sink, counting its batch commits (how many transactions isolating a poison costs)."""

    commits = 0

    def write_batch(self, events, **kw):  # type: ignore[no-untyped-def]
        self.commits += 1
        return super().write_batch(events, **kw)


def test_failed_batch_is_split_in_halves_not_retried_entry_by_entry(r: redis.Redis, wh: Engine,
                                                                    tables: FactTables) -> None:
    evs = workload()[:240]  # meals only: one stream, one batch
    poison = {evs[17].key, evs[170].key}

    def failing(new):  # type: ignore[no-untyped-def]
        if any(e.key in poison for e in new):
            raise ValueError("handler cannot process this event")
        return deltas(new)

    Producer(r, CODEC).submit(evs)
    sink = CountingSink(wh, tables)
    c = StreamConsumer(r, sink, CODEC, LiveState(r, TZ), failing, streams=STREAMS, name="c1", batch=500,
                       block_ms=50, claim_idle_ms=60_000)
    c.setup()
    c.step()
    c.finish()
    # the batch, then per failing entry one commit per halving level (240 -> 1 takes 8): never one per entry
    assert sink.commits <= 1 + 2 * 2 * 8, sink.commits
    assert count(wh, tables, "tcant.meal") == 238
    pending = r.xpending_range("ev:tcant", "warehouse", "-", "+", 10)
    assert len(pending) == 2
    tries = r.hgetall("tries:ev:tcant:warehouse")
    assert sorted(tries.values()) == [b"1", b"1"] and set(tries) == {p["message_id"] for p in pending}
    live = LiveState(r, TZ)
    assert live.sums(live.day_key(T0))["tcant.meals"] == 238


def test_undecodable_entry_is_dead_lettered_not_fatal(r: redis.Redis, wh: Engine, tables: FactTables) -> None:
    r.xadd("ev:tcant", {"e": b'{not json'})
    r.xadd("ev:tcant", {"x": b"no event field"})
    Producer(r, CODEC).submit(workload()[:5])
    c = make_consumer(r, wh, tables)
    drain(c)
    reasons = [f[b"reason"].decode() for _i, f in r.xrange(DEAD_LETTER)]
    assert reasons[0].startswith("undecodable entry: JSON is malformed")
    assert reasons[1] == "undecodable entry: stream entry has no 'e' field"
    assert count(wh, tables, "tcant.meal") == 5


def test_unreachable_database_leaves_entries_for_later(r: redis.Redis, tmp_path, tables: FactTables,
                                                        wh: Engine) -> None:
    (tmp_path / "x.db").mkdir()  # a directory where the database file should be: SQLite cannot open it
    broken = make_engine(f"sqlite:///{tmp_path}/x.db", role="consumer")
    Producer(r, CODEC).submit(workload()[:10])
    c = make_consumer(r, broken, tables)
    with pytest.raises(OperationalError) as err:
        c.step()
    assert is_infrastructure(err.value)
    assert r.xlen(DEAD_LETTER) == 0
    recovered = make_consumer(r, wh, tables)
    drain(recovered)
    assert count(wh, tables, "tcant.meal") == 10


def test_driver_level_outages_are_infrastructure() -> None:
    import sqlite3

    import psycopg

    assert is_infrastructure(sqlite3.OperationalError("database is locked"))
    assert is_infrastructure(psycopg.OperationalError("server closed the connection"))
    assert not is_infrastructure(ValueError("bad content"))
