"""The push path's processes, built from the classes production uses: the worker (StreamConsumer + Sink +
LiveState + Pusher(socketio_emitter) under run_worker, as `app.py worker`), the web process (Flask +
SocketIO on the Redis message queue + register_live_socket, as `app.py web` without the Dash pages, so
it runs whether or not the registry imports), and the producer that feeds them at a steady rate.

Each runs in a process of its own (`python -m bench.common worker|web|produce ...`), as in production,
so the push and memory benches measure the real hand-offs between them.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import cpu_seconds, instrument_consumer, percentiles
from bench.services import child, free_port, stop_process, wait_port
from bench.stores import GROUP
from bench.workload import TZ, Workload, load_workload
from settings import Settings
from streams.redis_conn import connect

CHANNEL = "bench-live"
COOKIE = "cc_session"


# --- worker and web processes ---------------------------------------------------------------------------
def load_screens():  # type: ignore[no-untyped-def]
    """screens/*.yaml validated against the metric catalogue, as the app loads them (invalid files left out)."""
    import analytics.metrics  # noqa: F401 - registers the metric catalogue
    from analytics.deltas import metrics
    from screens.loader import Catalogue, load_all
    from warehouse.panel_queries import NAMED_QUERIES

    return load_all(Path(__file__).resolve().parents[1] / "screens", Catalogue(metrics(), NAMED_QUERIES))


def register_screens() -> None:
    """The screens' push topics (`screen:<id>`), registered as `app.py worker|web` do from screens/*.yaml."""
    from analytics.deltas import metrics
    from callbacks.screen_topics import sync_screen_topics

    lib = load_screens()
    sync_screen_topics(lib.screens.values(), {name: info.kind for name, info in metrics().items()})


def run_worker_process(redis_url: str, db_url: str, kind: str, name: str, channel: str, batch: int,
                       stats_path: str | None = None, screens: bool = False) -> None:
    """What `app.py worker` runs: consumer + sink + live state + pusher on the message queue, under run_worker.

    With `stats_path`, the consumer's stages and the pusher's flushes are timed and written there as
    JSON when the process is stopped (SIGTERM). With `screens`, it pushes the screens' topics too.
    """
    from streams.consumer import StreamConsumer
    from streams.live_state import LiveState
    from streams.push import Pusher, socketio_emitter
    from streams.worker import run_worker
    from warehouse.db import make_engine
    from warehouse.sink import Sink

    if screens:
        register_screens()
    workload = load_workload(kind)
    r = connect(redis_url)
    engine = make_engine(db_url, role="consumer")
    live = LiveState(r, TZ)
    pusher = Pusher(live, socketio_emitter(redis_url, channel))
    consumer = StreamConsumer(r, Sink(engine, workload.tables()), workload.codec(), live, workload.deltas(),
                              streams=workload.streams, group=GROUP, name=name, batch=batch,
                              on_applied=pusher.note)
    stages = instrument_consumer(consumer) if stats_path else None
    steps: list[tuple[float, int]] = []  # (seconds, entries) of every step that handled something
    flushes: list[tuple[float, int]] = []  # (seconds, messages) of every flush that sent something
    if stats_path:
        step, flush = consumer.step, pusher.flush

        def timed_step() -> int:
            t = time.perf_counter()
            n = step()
            if n:
                steps.append((time.perf_counter() - t, n))
            return n

        def timed_flush() -> int:
            t = time.perf_counter()
            n = flush()
            if n:
                flushes.append((time.perf_counter() - t, n))
            return n

        consumer.step, pusher.flush = timed_step, timed_flush  # type: ignore[method-assign]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("ready", flush=True)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    run_worker(consumer, pusher, stop, stream_cap=5_000_000)
    if stats_path and stages is not None:
        st = consumer.stats
        Path(stats_path).write_text(json.dumps({
            "seconds": time.perf_counter() - t0, "cpu_s": cpu_seconds() - cpu0, "entries": st.entries,
            "batches": st.batches, "errors": st.infra_errors, "last_error": st.last_error,
            "stages": stages.report(st.entries), "pushed": pusher.sent,
            "step_ms": _ms(percentiles([d for d, _ in steps], (50, 95, 99, 100))),
            "entries_per_step": percentiles([n for _, n in steps], (50, 95, 100)),
            "flush_ms": _ms(percentiles([d for d, _ in flushes], (50, 95, 99, 100))),
        }))


def _ms(p: dict[str, float]) -> dict[str, float]:
    return {k: round(1000 * v, 2) for k, v in p.items()}


def run_web_process(redis_url: str, kind: str, port: int, channel: str, screens: bool = False) -> None:
    """What `app.py web` serves on /live: Flask + SocketIO (threading, Redis message queue) + the live socket
    (with `screens`, the screens' topics may be subscribed to as well)."""
    from flask import Flask
    from flask_socketio import SocketIO

    from auth.sessions import SessionStore
    from callbacks.live_socket import SocketSessions, register_live_socket
    from streams.live_state import LiveState

    if screens:
        register_screens()
    workload = load_workload(kind)
    live = LiveState(connect(redis_url), TZ)
    server = Flask("bench-web")
    server.config["SECRET_KEY"] = uuid.uuid4().hex
    origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    socketio = SocketIO(server, message_queue=redis_url, channel=channel, async_mode="threading",
                        cors_allowed_origins=origins, max_http_buffer_size=65_536)
    guard = SocketSessions(socketio, SessionStore(connect(redis_url), idle_s=1800), COOKIE)
    register_live_socket(socketio, live, workload.expect(), guard)
    guard.start()
    socketio.run(server, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, use_reloader=False,
                 log_output=False)


@dataclass
class PushStack:
    """The worker and web processes of the push path, started and stopped together."""

    worker: subprocess.Popen[Any]
    web: subprocess.Popen[Any]
    port: int
    tmp: Path
    cookie: str  # Cookie header of a viewer session the clients connect with (sockets are authenticated)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> dict[str, Any]:
        """Stop both; returns the worker's stage timings (empty if it did not write them)."""
        stop_process(self.worker, timeout=30)
        stop_process(self.web)
        path = self.tmp / "worker-stats.json"
        return json.loads(path.read_text()) if path.exists() else {}


def start_push_stack(redis_url: str, db_url: str, kind: str, tmp: Path, *, batch: int = Settings.batch_size,
                     stats: bool = True, screens: bool = False) -> PushStack:
    """Start the worker and web processes; the web process's log (werkzeug reports torn-down websockets
    there) goes to tmp/web.log. With `stats`, the worker times its stages and steps and writes them to
    tmp/worker-stats.json when stopped (it keeps every step's duration: not for the memory bench). With
    `screens` (registry schemas only), both register the screens' topics, so clients can subscribe to
    `screen:<id>` as a screen page does."""
    port = free_port()
    flags = ["--screens"] if screens else []
    worker = child(["bench.common", "worker", "--redis", redis_url, "--db", db_url, "--kind", kind,
                    "--channel", CHANNEL, "--batch", str(batch), *flags]
                   + (["--stats", str(tmp / "worker-stats.json")] if stats else []),
                   stdout=subprocess.PIPE, text=True)
    web_log = open(tmp / "web.log", "wb")  # noqa: SIM115 - owned by the child for its lifetime
    web = child(["bench.common", "web", "--redis", redis_url, "--kind", kind, "--port", str(port),
                 "--channel", CHANNEL, *flags], stdout=web_log, stderr=subprocess.STDOUT)
    web_log.close()
    try:
        line = worker.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "ready":
            raise RuntimeError(f"worker did not start (exit {worker.poll()})")
        wait_port(port, web)
    except Exception:
        stop_process(worker)
        stop_process(web)
        raise
    return PushStack(worker, web, port, tmp, viewer_cookie(redis_url))


def viewer_cookie(redis_url: str) -> str:
    """A signed-in leadership session, as a browser would hold after login (sockets need one)."""
    from auth.sessions import SessionStore

    s = SessionStore(connect(redis_url), idle_s=1800).create(
        user_id=0, username="bench", roles=["leadership"], unit_id=None, stage="full", address="127.0.0.1", mfa=False)
    return f"{COOKIE}={s.sid}"


# --- producer at a steady rate ---------------------------------------------------------------------------
def produce_at_rate(redis_url: str, workload: Workload, rate: float, seconds: float, *, tick: float = 0.01,
                    stop: threading.Event | None = None, record_ticks: bool = False) -> dict[str, Any]:
    """XADD `rate` events/s for `seconds`; each event's `ts` is its XADD wall time (set just before
    the pipeline is sent), which is what the push bench measures latency from. With `record_ticks`, also per
    pipeline that time (epoch ms) and how many events of each system it carried (`ticks`), so each event's
    own latency can be told."""
    from streams.producer import Producer

    stop = stop or threading.Event()
    producer = Producer(connect(redis_url), workload.codec())
    make = workload.live_factory()
    t0 = time.monotonic()
    sent, late_ticks = 0, 0
    ticks: list[tuple[float, dict[str, int]]] = []
    next_tick = t0
    while not stop.is_set():
        now_m = time.monotonic()
        elapsed = now_m - t0
        if elapsed >= seconds:
            break
        due = int(rate * elapsed) - sent
        if due > 0:
            now = dt.datetime.now(dt.UTC)
            events = make(due, now)
            producer.submit(events)
            if record_ticks:
                ticks.append((now.timestamp() * 1000, dict(Counter(e.system for e in events))))
            sent += due
        next_tick += tick
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late_ticks += 1
            next_tick = time.monotonic()
    elapsed = time.monotonic() - t0
    return {"sent": sent, "seconds": elapsed, "rate": sent / elapsed if elapsed else 0.0, "late_ticks": late_ticks,
            "ticks": ticks}
