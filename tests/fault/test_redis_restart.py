"""kill -9 and restart of Redis under load: AOF always, AOF everysec, and the negative control without AOF.

A private redis-server (its own port and dir) takes a steady 2,000 events/s from a producer
and feeds two worker processes. The workers are paused (SIGSTOP) for 2 s before Redis is
killed, so a backlog of accepted but unconsumed entries exists at the crash; they resume at
once and must recover by themselves when Redis comes back on the same dir and port.

With `appendonly yes` (what the product requires) while Redis is down every submit is refused
(Unavailable), none accepted. After the restart, with `appendfsync always`: lost 0, duplicated 0.
With `appendfsync everysec` Redis may acknowledge writes it has not yet written to the AOF: while a
background fsync is still running it postpones the write for up to 2 s (Redis 7.0 aof.c), so a
kill -9 can lose events accepted in the last seconds before the crash (seen here under disk load:
100 of them). The test allows exactly that window and nothing older, and reports the count. With
`appendonly no` the same run must be caught losing accepted events: the negative control that
proves the ledger check can fail.
"""

from __future__ import annotations

import signal
import time

import pytest

from streams.redis_conn import connect
from tests.fault.checks import assert_exactly_once, settle, verdict
from tests.fault.ledger import Ledger
from tests.fault.load import EventMaker, Load, producer_for
from tests.fault.probes import backlog
from tests.fault.services import wait_until

pytestmark = pytest.mark.fault

RATE = 2000
DOWN_S = 5.0


EVERYSEC_WINDOW_S = 3.0  # 1 s between fsyncs + up to 2 s of postponed writes


@pytest.mark.parametrize("appendonly,appendfsync", [(True, "always"), (True, "everysec"), (False, "everysec")],
                         ids=["aof-always", "aof-everysec", "negative-control-no-aof"])
def test_redis_kill9_and_restart(appendonly, appendfsync, redis_server, workers, sqlite_wh, fact_tables,  # type: ignore[no-untyped-def]
                                 figures) -> None:
    srv = redis_server(appendonly=appendonly, appendfsync=appendfsync)
    url = srv.url()
    db_url, engine = sqlite_wh
    w = workers(redis_url=url, database_url=db_url, claim_idle_ms=2000,
                durability="strict" if appendonly else "warn")
    names = ["c1", "c2"]
    for n in names:
        w.start(n)
    r = connect(url)
    wait_until(lambda: all(r.hexists("health:workers", n) for n in names), 30, "both workers' first heartbeat")

    ledger = Ledger()
    load = Load(producer_for(url), ledger, EventMaker(seed=2), rate=RATE)
    load.start()
    try:
        time.sleep(4.0)
        w.signal_all(signal.SIGSTOP)
        time.sleep(2.0)
        lag_at_kill = sum(backlog(r))
        srv.kill9()
        t_down = time.monotonic()
        w.signal_all(signal.SIGCONT)
        time.sleep(DOWN_S)
        t_up = time.monotonic()
        ledger.fault(t_down, t_up)
        restart_s = srv.start()
        time.sleep(6.0)
    finally:
        load.stop()

    in_window = ledger.ops_in(t_down, t_up)
    refused_after = [op for op in ledger.ops if op.outcome == "refused" and op.end > t_down]
    accepted_after_restart = [op for op in ledger.ops if op.outcome == "ok" and op.start >= t_up]
    figures["appendonly"] = appendonly
    figures["appendfsync"] = appendfsync
    figures["backlog_at_kill"] = lag_at_kill
    figures["down_s"] = DOWN_S
    figures["restart_s"] = round(restart_s, 3)
    figures["first_refusal_after_kill_s"] = round(min(op.end for op in refused_after) - t_down, 3) \
        if refused_after else None
    figures["calls_during_outage"] = {"refused": sum(op.outcome == "refused" for op in in_window),
                                      "accepted": sum(op.outcome == "ok" for op in in_window),
                                      "error": sum(op.outcome == "error" for op in in_window)}
    figures["first_accept_after_restart_s"] = round(min(op.end for op in accepted_after_restart) - t_up, 3) \
        if accepted_after_restart else None
    figures["load"] = {"accepted": load.accepted, "refused": load.refused, "errors": load.errors}

    # while Redis is down: refusals, never an accept, nothing unexpected
    assert figures.values["calls_during_outage"]["refused"] > 0, "no submit was refused while Redis was down"
    assert figures.values["calls_during_outage"]["accepted"] == 0, "an event was accepted while Redis was down"
    assert figures.values["calls_during_outage"]["error"] == 0, [op.error for op in in_window if op.error][:3]
    assert accepted_after_restart, "the producer never recovered after the restart"
    assert lag_at_kill > 0, "nothing was waiting in Redis at the crash: the test proved nothing"

    settle(r, engine, figures, timeout=60)
    assert all(w.alive(n) for n in names), "a worker died instead of waiting for Redis:\n" + w.tail()
    if appendonly:
        window = frozenset() if appendfsync == "always" else frozenset(
            k for op in ledger.ops if op.outcome == "ok" and op.end >= t_down - EVERYSEC_WINDOW_S for k in op.keys)
        assert_exactly_once(r, engine, fact_tables, ledger, figures, may_lose=window)
    else:
        v = verdict(ledger, engine, fact_tables, figures)
        assert v.lost, "negative control: Redis without AOF lost nothing, so the ledger check cannot be trusted"
        assert not v.duplicated and not v.fail_stored and not v.phantom
