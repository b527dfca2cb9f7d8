"""The stream worker process: one consumer, its pusher, retention, heartbeat and lag alarms.

One consumer per process (the GIL makes threads of consumers pointless); run several
processes in one group for more throughput. The pusher lives beside its consumer so it
knows exactly what changed without another round trip.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from streams.consumer import StreamConsumer
from streams.health import HEARTBEATS, publish_heartbeat
from streams.ops_alarms import LAG_ALARM_S, check_lag
from streams.push import Pusher
from streams.retention import trim

log = logging.getLogger(__name__)

LAG_CHECK_S = 5.0  # a lag alarm is raised at most this long after the backlog passes its threshold


def _every(stop: threading.Event, seconds: float, fn: Callable[[], object], what: str) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(seconds):
            try:
                fn()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("%s: Redis unavailable (%s)", what, exc)
            except Exception:  # noqa: BLE001 - housekeeping must never end the worker
                log.exception("%s failed", what)

    t = threading.Thread(target=loop, name=what, daemon=True)
    t.start()
    return t


def run_worker(consumer: StreamConsumer, pusher: Pusher | None, stop: threading.Event, *,
               stream_cap: int, retention_keep_ms: int = 600_000, lag_alarm_s: float = LAG_ALARM_S) -> None:
    """Run until `stop` is set; housekeeping threads stop with it."""
    r = consumer.r
    if pusher is not None:
        threading.Thread(target=pusher.run, args=(stop,), name="pusher", daemon=True).start()

    def housekeeping() -> None:
        for s in consumer.streams:
            trim(r, s, keep_ms=retention_keep_ms, cap=stream_cap)

    def heartbeat() -> None:
        st = consumer.stats
        publish_heartbeat(r, consumer.name, {
            "batches": st.batches, "entries": st.entries, "new": st.new, "duplicates": st.duplicates,
            "dead": st.dead, "reclaimed": st.reclaimed, "lost_on_claim": st.lost_on_claim,
            "errors": st.infra_errors, "last_error": st.last_error,
            "pushed": pusher.sent if pusher is not None else 0,
        })

    _every(stop, 30.0, housekeeping, "retention")
    _every(stop, 2.0, heartbeat, "heartbeat")
    _every(stop, LAG_CHECK_S, lambda: check_lag(r, consumer.streams, consumer.group, threshold_s=lag_alarm_s),
           "lag alarms")
    try:
        consumer.run(stop)
    finally:
        try:
            r.hdel(HEARTBEATS, consumer.name)
        except redis.RedisError:
            pass
