"""A poison event in running worker processes under load (SECURITY.md: "poison event").

The event is valid for its schema, but the handler fails on it every time (the workers run
with `--poison-person POISON`: the delta step raises for that person's meals). Two worker
processes consume a steady 2,000 events/s; one poison meal rides along in a producer batch.
Must hold: the poison event is dead-lettered after exactly max_tries (5) failed tries, with
the reason and its raw payload; every other accepted event lands exactly once; live state
and rollups agree with the facts. The time to dead-letter and the backlog the isolation of
the failing batch caused are printed.
"""

from __future__ import annotations

import time

import pytest

from streams.redis_conn import connect
from tests.fault.checks import assert_exactly_once, settle
from tests.fault.ledger import Ledger
from tests.fault.load import CODEC, EventMaker, Load, producer_for
from tests.fault.probes import Sampler, backlog, dead_letters
from tests.fault.services import wait_until

pytestmark = pytest.mark.fault

RATE = 2000
CLAIM_IDLE_MS = 1000
MAX_TRIES = 5
POISON = "POISON"


def test_poison_event_dead_lettered_under_load(redis_server, workers, sqlite_wh, fact_tables, figures) -> None:  # type: ignore[no-untyped-def]
    srv = redis_server()
    url = srv.url()
    db_url, engine = sqlite_wh
    w = workers(redis_url=url, database_url=db_url, claim_idle_ms=CLAIM_IDLE_MS, max_tries=MAX_TRIES)
    names = ["c1", "c2"]
    for n in names:
        w.start(n, "--poison-person", POISON)
    r = connect(url)
    wait_until(lambda: all(r.hexists("health:workers", n) for n in names), 30, "both workers' first heartbeat")

    maker = EventMaker(seed=5)
    ledger = Ledger()
    load = Load(producer_for(url), ledger, maker, rate=RATE)
    samples = Sampler(lambda: sum(backlog(r)), every=0.1)
    load.start()
    try:
        time.sleep(4.0)
        poison = maker.meal(person=POISON)
        load.inject.append(poison)
        t_inject = time.monotonic()
        to_dead = wait_until(lambda: dead_letters(r), 60, "the poison event to be dead-lettered")
        time.sleep(3.0)
    finally:
        load.stop()
        series = samples.stop()

    t_rel = t_inject - samples._t0
    figures["claim_idle_ms"] = CLAIM_IDLE_MS
    figures["max_tries"] = MAX_TRIES
    figures["seconds_to_dead_letter"] = round(to_dead, 2)
    figures["max_backlog_before_poison"] = max((v for t, v in series if t < t_rel), default=None)
    figures["max_backlog_after_poison"] = max((v for t, v in series if t >= t_rel), default=None)
    figures["load"] = {"accepted": load.accepted, "refused": load.refused, "errors": load.errors}
    settle(r, engine, figures)
    (letter,) = dead_letters(r)
    reason = letter[b"reason"].decode()
    figures["dead_letter_reason"] = reason
    figures["worker_log_failed_tries"] = len(w.log_lines("failed (try"))
    assert figures.values["worker_log_failed_tries"] == MAX_TRIES, w.log_lines("failed (try")
    assert reason == (f"handler failed {MAX_TRIES} times: "
                      f"ValueError: poison: the handler cannot process meals of {POISON}")
    assert CODEC.decode(letter[b"raw"]).key == poison.key
    assert letter[b"origin"].decode().startswith("ev:tcant/") and letter[b"system"] == b"tcant"
    assert any(poison.key in op.keys and op.outcome == "ok" for op in ledger.ops), "the poison was never accepted"
    assert all(w.alive(n) for n in names), "a worker died on the poison event:\n" + w.tail()
    assert_exactly_once(r, engine, fact_tables, ledger, figures, dead=1, dead_keys=frozenset({poison.key}))
