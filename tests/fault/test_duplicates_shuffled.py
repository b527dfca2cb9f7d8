"""Retried and duplicated posts in shuffled order across two worker processes.

Every event is submitted 1 to 4 times, all copies shuffled, some through the producer's
pipeline and some one by one through `submit_raw` (the ingest path a retrying client takes),
while two worker processes consume. Must hold: one row per key, nothing lost; and the live
state equals an ordered replay of the same events (each once, in event-time order) into a
fresh Redis database and a fresh warehouse, key by key (sums and per-minute series, levels,
newest values, source stamps and sequence coverage), and the two warehouses hold equal rows.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time

import pytest
import redis
from sqlalchemy import select

from settings import load_settings
from streams.live_state import VERSION_KEY
from streams.redis_conn import connect
from tests.fault.checks import assert_exactly_once, settle
from tests.fault.conftest import sqlite_warehouse
from tests.fault.ledger import Ledger, Op
from tests.fault.load import CODEC, EventMaker, producer_for, submit_all
from tests.fault.probes import drained
from tests.fault.proc_consumer import build_worker
from tests.fault.services import wait_until

pytestmark = pytest.mark.fault

EVENTS = 15_000
FLOATY = ("live:sum:", "live:min:", "live:level")


def live_dump(r: redis.Redis) -> dict[str, dict[str, str]]:
    out = {}
    for key in r.scan_iter(match="live:*", count=1000):
        name = key.decode()
        if name.startswith("live:applied:") or name == VERSION_KEY:
            continue  # batch guards and the state version follow the batches, which differ between the runs
        out[name] = {k.decode(): v.decode() for k, v in r.hgetall(key).items()}
    return out


def same_live(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]) -> list[str]:
    diffs = [f"only in the shuffled run: {k}" for k in a.keys() - b.keys()]
    diffs += [f"only in the replay: {k}" for k in b.keys() - a.keys()]
    for key in a.keys() & b.keys():
        x, y = a[key], b[key]
        if x.keys() != y.keys():
            diffs.append(f"{key}: fields differ: {sorted(x.keys() ^ y.keys())[:5]}")
            continue
        for f in x:
            if key.startswith(FLOATY):
                same = abs(float(x[f]) - float(y[f])) <= 1e-6 * max(1.0, abs(float(y[f])))
            else:
                same = x[f] == y[f]
            if not same:
                diffs.append(f"{key}[{f}]: shuffled {x[f]!r} != replay {y[f]!r}")
    return diffs


def rows(engine, tables) -> list[tuple]:  # type: ignore[no-untyped-def]
    out: list[tuple] = []
    with engine.connect() as conn:
        for ft in tables:
            out += [tuple(row) for row in conn.execute(select(ft.table).order_by(ft.table.c.key))]
        conn.rollback()
    return out


def test_duplicated_shuffled_delivery_equals_ordered_replay(redis_server, workers, sqlite_wh, fact_tables, figures,
                                                            tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = redis_server()
    url = srv.url(0)
    db_url, engine = sqlite_wh
    w = workers(redis_url=url, database_url=db_url, claim_idle_ms=2000)
    names = ["c1", "c2"]
    for n in names:
        w.start(n)
    r = connect(url)
    wait_until(lambda: all(r.hexists("health:workers", n) for n in names), 30, "both workers' first heartbeat")

    rng = random.Random(6)
    maker = EventMaker(seed=6)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=25)
    spread = dt.timedelta(minutes=20) / EVENTS  # strictly increasing event times over 20 minutes
    events = [maker.meal(t0 + i * spread) if rng.random() < 0.6 else maker.gate(t0 + i * spread)
              for i in range(EVENTS)]
    copies = [e for e in events for _ in range(rng.choice((1, 1, 2, 3, 4)))]
    rng.shuffle(copies)

    producer = producer_for(url)
    ledger = Ledger()
    t_start = time.monotonic()
    raw_posts = 0
    for i in range(0, len(copies), 200):
        chunk = copies[i:i + 200]
        if rng.random() < 0.2:
            for ev in chunk:  # retried posts through the ingest path, one by one
                t = time.monotonic()
                res = producer.submit_raw(CODEC.encode(ev), origin="fault-test")
                assert type(res).__name__ == "Accepted", res
                ledger.record(Op([ev.key], t, time.monotonic(), "ok"))
                raw_posts += 1
        else:
            submit_all(producer, chunk, ledger, batch=200)
    submit_s = time.monotonic() - t_start
    settle(r, engine, figures)
    figures["events"] = EVENTS
    figures["submissions"] = len(copies)
    figures["raw_posts"] = raw_posts
    figures["submit_s"] = round(submit_s, 2)
    v = assert_exactly_once(r, engine, fact_tables, ledger, figures)
    assert v.ok == EVENTS and v.stored == EVENTS
    time.sleep(2.5)  # one heartbeat period: the workers' counters after the last batch
    beats = [json.loads(b) for b in r.hgetall("health:workers").values()]
    figures["workers_new_duplicates"] = {"new": sum(b["new"] for b in beats),
                                         "duplicates": sum(b["duplicates"] for b in beats)}
    assert figures.values["workers_new_duplicates"]["new"] == EVENTS

    # the ordered replay: each event once, in event-time order, into a fresh Redis db and warehouse
    replay_url, replay_engine = sqlite_warehouse(tmp_path / "replay.db", fact_tables)
    settings = load_settings({"REDIS_URL": srv.url(1), "DATABASE_URL": replay_url, "DATA_DIR": str(tmp_path / "rd"),
                              "TZ": "Asia/Shanghai", "DURABILITY": "strict"}, path=tmp_path / "none.yaml")
    consumer, _ = build_worker(settings, "replay", push=False)
    consumer.block_ms = 50
    r1 = consumer.r
    assert r1.dbsize() == 0, "the replay database is not fresh"
    consumer.setup()
    submit_all(producer_for(srv.url(1)), sorted(events, key=lambda e: e.ts), Ledger(), batch=500)
    t_replay = time.monotonic()
    while not drained(r1, replay_engine):
        consumer.step()
        assert time.monotonic() - t_replay < 120, "the replay consumer did not drain"
    figures["replay_s"] = round(time.monotonic() - t_replay, 2)
    assert consumer.stats.duplicates == 0 and consumer.stats.new == EVENTS

    shuffled, ordered = live_dump(r), live_dump(r1)
    figures["live_keys_compared"] = len(ordered)
    diffs = same_live(shuffled, ordered)
    assert not diffs, f"{len(diffs)} live-state differences from the ordered replay: {diffs[:8]}"
    assert rows(engine, fact_tables) == rows(replay_engine, fact_tables)
    replay_engine.dispose()
