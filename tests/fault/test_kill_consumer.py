"""kill -9 of a consumer, repeatedly, under load (SECURITY.md, reliability contract).

Two worker processes in one group consume a steady 2,000 events/s; one of them, chosen at
random, is killed with SIGKILL at a random moment four times and restarted under the same
name (as app.py's Supervisor does). The moment is random, then sharpened: the kill waits
(up to 3 s) until the victim holds delivered but unacknowledged entries (20 or more if that
happens within 2 s), so it lands mid-batch. Runs on SQLite and on a private PostgreSQL.
Must hold: lost 0, duplicated 0, live state and rollups equal to the warehouse, and the
entries the dead process left pending acknowledged within 2 x the claim idle time of its death.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from streams.redis_conn import connect
from tests.fault.checks import assert_exactly_once, settle
from tests.fault.ledger import Ledger
from tests.fault.load import GROUP, STREAMS, EventMaker, Load, producer_for
from tests.fault.services import wait_until

pytestmark = pytest.mark.fault

CLAIM_IDLE_MS = 2000
RATE = 2000
KILLS = 4


def pending_of(r, consumer: str) -> set[bytes]:  # type: ignore[no-untyped-def]
    ids: set[bytes] = set()
    for s in STREAMS:
        for p in r.xpending_range(s, GROUP, min="-", max="+", count=1_000_000, consumername=consumer):
            ids.add(p["message_id"])
    return ids


def pending_count(r, consumer: str) -> int:  # type: ignore[no-untyped-def]
    n = 0
    for s in STREAMS:
        for c in r.xpending(s, GROUP)["consumers"]:
            if c["name"] in (consumer, consumer.encode()):
                n += int(c["pending"])
    return n


def still_pending(r, ids: set[bytes]) -> int:  # type: ignore[no-untyped-def]
    if not ids:
        return 0
    left: set[bytes] = set()
    for s in STREAMS:
        for p in r.xpending_range(s, GROUP, min="-", max="+", count=1_000_000):
            left.add(p["message_id"])
    return len(ids & left)


def test_kill9_consumer_repeatedly_under_load(redis_server, workers, warehouse_db, fact_tables, figures) -> None:  # type: ignore[no-untyped-def]
    srv = redis_server()
    url = srv.url()
    db_url, engine = warehouse_db.url, warehouse_db.engine
    w = workers(redis_url=url, database_url=db_url, claim_idle_ms=CLAIM_IDLE_MS)
    names = ["c1", "c2"]
    for n in names:
        w.start(n)
    r = connect(url)
    wait_until(lambda: all(r.hexists("health:workers", n) for n in names), 30, "both workers' first heartbeat")

    ledger = Ledger()
    load = Load(producer_for(url), ledger, EventMaker(seed=1), rate=RATE)
    rng = random.Random(20261125)
    drains: list[dict] = []
    monitors: list[threading.Thread] = []

    def watch(record: dict, ids: set[bytes], t_kill: float) -> None:
        while time.monotonic() - t_kill < 60:
            if still_pending(r, ids) == 0:
                record["drained_s"] = round(time.monotonic() - t_kill, 3)
                return
            time.sleep(0.02)

    load.start()
    t_start = time.monotonic()
    try:
        time.sleep(3.0)
        for i in range(KILLS):
            time.sleep(rng.uniform(1.5, 5.0))
            victim = rng.choice(names)
            # adversarial moment: as soon as the victim holds delivered, unacknowledged entries (mid-batch)
            deadline = time.monotonic() + 3.0
            while pending_count(r, victim) < (20 if time.monotonic() < deadline - 1.0 else 1) \
                    and time.monotonic() < deadline:
                time.sleep(0.001)
            w.kill9(victim)
            t_kill = time.monotonic()
            ids = pending_of(r, victim)
            record = {"kill": i + 1, "victim": victim, "at_s": round(t_kill - t_start, 2), "pending_at_kill": len(ids)}
            drains.append(record)
            mon = threading.Thread(target=watch, args=(record, ids, t_kill), daemon=True)
            mon.start()
            monitors.append(mon)
            time.sleep(rng.uniform(0.2, 1.5))
            w.restart(victim)
        time.sleep(2 * CLAIM_IDLE_MS / 1000 + 2)
    finally:
        load.stop()
    t_load = time.monotonic() - t_start
    for mon in monitors:
        mon.join(60)

    figures["database"] = engine.dialect.name
    figures["claim_idle_ms"] = CLAIM_IDLE_MS
    figures["load"] = {"rate_target": RATE, "seconds": round(t_load, 1), "accepted": load.accepted,
                       "refused": load.refused, "errors": load.errors}
    figures["kills"] = drains
    figures["max_drain_s"] = max((d.get("drained_s", float("inf")) for d in drains), default=None)
    settle(r, engine, figures)
    assert all(w.alive(n) for n in names), "a restarted worker died:\n" + w.tail()
    assert load.refused == 0 and load.errors == 0, "the producer was refused although Redis never went down"
    assert_exactly_once(r, engine, fact_tables, ledger, figures)
    limit = 2 * CLAIM_IDLE_MS / 1000
    slow = [d for d in drains if d.get("drained_s", float("inf")) > limit]
    assert not slow, f"pending entries of a killed worker not drained within 2 x claim idle ({limit} s): {slow}"
    assert any(d["pending_at_kill"] for d in drains), "no kill left anything pending: the kills proved nothing"
