"""Shared pieces of the stream benches: servers, workloads, stage timers, the worker and web
processes of the push path, Socket.IO clients, and figures printed as tables and written as JSON.

Every bench runs against real services, as in production: a private `redis-server` (AOF
everysec, noeviction) on a free loopback port in a temp folder, or REDIS_URL when given; a
temp SQLite file through the consumer-role engine (WAL + synchronous=FULL) or a fresh schema
in PostgreSQL. Events come from the real registry's simulators when `datasources.registry`
imports, else from the small test schemas in tests/streams/schemas.py; the output says which.

The worker and web processes are built from the same classes `app.py worker` and `app.py web`
use (StreamConsumer + Sink + LiveState + Pusher(socketio_emitter) under run_worker; Flask +
SocketIO on the Redis message queue + register_live_socket), without the Dash pages, so they
run whether or not the registry imports. Run them as `python -m bench.common worker|web ...`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
import redis  # noqa: E402

from datasources.base import Event, make_key  # noqa: E402
from streams.codec import Codec, stream_of  # noqa: E402
from streams.redis_conn import connect, redis_binary  # noqa: E402

OUT_DIR = ROOT / "bench" / "out"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TZ = ZoneInfo("Asia/Shanghai")
CHANNEL = "bench-live"
GROUP = "warehouse"


# --- workloads -------------------------------------------------------------------------------------------
@dataclass
class Workload:
    """The event schemas a bench runs on, their extractors, and a generator of realistic events."""

    kind: str  # "registry" (the real systems and simulators) or "test" (tests/streams/schemas.py)
    note: str  # why this kind was chosen (the registry's import error, if any)
    structs: list[type[Event]]
    systems: dict[str, Any] = field(default_factory=dict)  # registry only: name -> SystemSpec

    @property
    def streams(self) -> list[str]:
        return sorted({stream_of(s.schema_name().split(".", 1)[0]) for s in self.structs})

    def codec(self) -> Codec:
        return Codec(self.structs)

    def tables(self):  # type: ignore[no-untyped-def]
        from warehouse.facts import FactTables

        return FactTables(self.structs)

    def expect(self) -> dict[str, float]:
        """Expected interval per system (what the /live snapshot reports as `expect`)."""
        if self.systems:
            return {s.name: s.expected_interval_s for s in self.systems.values()}
        return {"tcant": 60.0, "tgate": 60.0}

    def deltas(self) -> Callable[[list[Event]], dict]:
        from analytics.deltas import fold

        return lambda evs: fold(evs, TZ).to_wire()

    # history: a time-ordered batch of events ending now (ingest bench)
    def events(self, n: int, *, end: dt.datetime | None = None, seed: int = 1) -> list[Event]:
        end = end or dt.datetime.now(dt.UTC).replace(microsecond=0)
        if self.kind == "registry":
            return _registry_events(self.systems, n, end, seed)
        span = dt.timedelta(seconds=max(n / 100.0, 60.0))  # ~100 events/s of history
        return list(_test_events(n, end - span, end, random.Random(seed)))

    def live_factory(self, seed: int = 2) -> Callable[[int, dt.datetime], list[Event]]:
        """`make(count, now)`: `count` events stamped `now` (their XADD wall time) with fresh keys and
        per-source sequence numbers, for the push and memory benches."""
        rng = random.Random(seed)
        if self.kind == "test":
            seqs: dict[str, int] = defaultdict(int)

            def make_test(count: int, now: dt.datetime) -> list[Event]:
                return [_test_event(rng, now, seqs) for _ in range(count)]

            return make_test
        pool = _registry_events(self.systems, 50_000, dt.datetime.now(dt.UTC).replace(microsecond=0), seed)
        seqs = defaultdict(int)
        cursor = [0]
        skipped = [0]

        def make_registry(count: int, now: dt.datetime) -> list[Event]:
            out: list[Event] = []
            while len(out) < count:
                ev = pool[cursor[0] % len(pool)]
                cursor[0] += 1
                try:
                    moved = restamp(ev, now, seqs[ev.source] + 1)
                except ValueError:  # a schema rule the shift breaks (rare); leave that event out
                    skipped[0] += 1
                    if skipped[0] > 1000 and skipped[0] > cursor[0] // 2:
                        raise
                    continue
                seqs[ev.source] += 1
                out.append(moved)
            return out

        return make_registry


_TIME_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _time_fields(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(datetime fields other than ts, date fields) of an event Struct."""
    import msgspec.inspect as mi

    found = _TIME_FIELDS.get(cls)
    if found is None:
        def kinds(t: Any) -> set[type]:
            return {type(u) for u in t.types} if isinstance(t, mi.UnionType) else {type(t)}

        fields = mi.type_info(cls).fields  # type: ignore[union-attr]
        found = (tuple(f.name for f in fields if f.name != "ts" and mi.DateTimeType in kinds(f.type)),
                 tuple(f.name for f in fields if mi.DateType in kinds(f.type)))
        _TIME_FIELDS[cls] = found
    return found


def restamp(ev: Event, now: dt.datetime, seq: int) -> Event:
    """The event moved to `now`: `ts` = now, a fresh time-ordered key, `seq`; its other times move by the
    same amount (dates by the same number of local days), so the schema's own rules still hold."""
    stamps, dates = _time_fields(type(ev))
    changes: dict[str, Any] = {"ts": now, "key": make_key(now), "seq": seq}
    if stamps or dates:
        delta = now - ev.ts
        days = now.astimezone(TZ).date() - ev.ts.astimezone(TZ).date()
        for f in stamps:
            v = getattr(ev, f)
            if v is not None:
                changes[f] = v + delta
        for f in dates:
            v = getattr(ev, f)
            if v is not None:
                changes[f] = v + days
    return msgspec.structs.replace(ev, **changes)


def load_workload(kind: str = "auto") -> Workload:
    """The real registry when it imports (and kind allows), else the test schemas."""
    note = ""
    if kind in ("auto", "registry"):
        try:
            import analytics.metrics  # noqa: F401 - registers the real KPI extractors
            from datasources.registry import SYSTEMS, schemas

            return Workload("registry", "datasources.registry imported", list(schemas().values()), dict(SYSTEMS))
        except Exception as exc:  # noqa: BLE001 - the registry is being finished; anything may fail
            if kind == "registry":
                raise
            note = f"datasources.registry does not import ({type(exc).__name__}: {exc}); using the test schemas"
    from tests.streams.schemas import Gate, Meal  # registers the test extractors

    return Workload("test", note or "test schemas requested", [Meal, Gate])


_PRICES = [Decimal(p) for p in ("3.00", "5.50", "8.00", "12.50", "15.00", "18.80", "22.00", "26.50", "35.00")]
_METHODS = ("card", "card", "card", "face", "face", "tray")
_TEST_SOURCES = {"tcant": ("t.cant.north", "t.cant.south"), "tgate": ("t.gate.east", "t.gate.west", "t.gate.p1")}


def _test_event(rng: random.Random, ts: dt.datetime, seqs: dict[str, int]) -> Event:
    from tests.streams.schemas import Gate, Meal

    if rng.random() < 0.55:
        source = rng.choice(_TEST_SOURCES["tcant"])
        seqs[source] += 1
        return Meal(source=source, ts=ts, key=make_key(ts), seq=seqs[source],
                    person_id=f"P{rng.randrange(1, 3001):05d}", amount=rng.choice(_PRICES),
                    method=rng.choice(_METHODS))  # type: ignore[arg-type]
    source = rng.choice(_TEST_SOURCES["tgate"])
    seqs[source] += 1
    return Gate(source=source, ts=ts, key=make_key(ts), seq=seqs[source], gate_id=f"GP{rng.randrange(1, 17):02d}",
                direction="in" if rng.random() < 0.52 else "out", queue=float(rng.randrange(0, 25)))  # type: ignore[arg-type]


def _test_events(n: int, start: dt.datetime, end: dt.datetime, rng: random.Random) -> Iterator[Event]:
    seqs: dict[str, int] = defaultdict(int)
    step = (end - start) / max(n, 1)
    for i in range(n):
        yield _test_event(rng, start + step * i, seqs)


def _registry_events(systems: dict[str, Any], n: int, end: dt.datetime, seed: int) -> list[Event]:
    """n events of the real simulators, all systems merged in time order, ending at `end`.

    The simulators follow a daily rhythm; we run them over the days before `end` and raise the
    rate until the window yields n events, then keep the newest n.
    """
    import heapq

    from domain.calendar import default_calendar
    from domain.compound import build_compound

    compound, cal = build_compound(7), default_calendar()
    days, rate = 1, 1.0
    while True:
        start = end - dt.timedelta(days=days)
        streams = []
        for name, spec in systems.items():
            sim = spec.make_simulator(compound, cal, seed=seed, rate=rate, tz=TZ, source=f"sim.{name}", seq_start=0)
            streams.append(list(sim.events_between(start, end)))
        merged = list(heapq.merge(*streams, key=lambda e: e.ts))
        if len(merged) >= n:
            return merged[-n:]
        if days < 7:
            days = 7
        else:
            rate *= max(2.0, 1.2 * n / max(len(merged), 1))


# --- services ----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    url: str
    private: bool
    proc: subprocess.Popen[bytes] | None = None
    dir: Path | None = None

    def client(self) -> redis.Redis:
        return connect(self.url)

    def reset(self) -> None:
        """Empty it between runs (FLUSHALL on the private server, FLUSHDB on a given REDIS_URL)."""
        r = self.client()
        r.flushall() if self.private else r.flushdb()
        r.close()

    def info(self) -> dict[str, Any]:
        r = self.client()
        i = r.info()
        cfg = {k: v for name in ("appendonly", "appendfsync", "maxmemory-policy")
               for k, v in r.config_get(name).items()}
        r.close()
        return {"version": i.get("redis_version"), "private": self.private,
                **{(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                   for k, v in cfg.items()}}


@contextlib.contextmanager
def redis_server(url: str | None = None, *, flush: bool = False) -> Iterator[RedisServer]:
    """A private redis-server like production's (AOF everysec, noeviction), or the given URL.

    A given Redis must be empty unless `flush` is set: the benches write ev:* streams and live:*
    keys and FLUSHDB between runs.
    """
    url = url or os.environ.get("REDIS_URL")
    if url:
        r = connect(url)
        if r.dbsize() and not flush:
            raise SystemExit(f"{url} is not empty; the benches flush it between runs: pass --flush-redis to allow that")
        r.flushdb()
        r.close()
        yield RedisServer(url, private=False)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    port = free_port()
    args = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp),
            "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
            "--save", "", "--daemonize", "no", "--logfile", str(tmp / "redis.log")]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    server = RedisServer(f"redis://127.0.0.1:{port}/0", private=True, proc=proc, dir=tmp)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}; see {tmp / 'redis.log'}")
            try:
                if server.client().ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield server
    finally:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def engine_name(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@contextlib.contextmanager
def scratch_db(engine: str, pg_url: str = PG_URL) -> Iterator[str]:
    """`sqlite`: a file in a temp folder; `postgresql`: a fresh schema first on the search_path, dropped after."""
    from sqlalchemy import create_engine, make_url

    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
            yield f"sqlite:///{tmp}/warehouse.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def prepare_warehouse(db_url: str, workload: Workload) -> dict[str, Any]:
    """Create dimensions, ops tables and the workload's fact tables; report the durability settings."""
    from warehouse.db import check_durability, make_engine
    from warehouse.schema import create_schema

    engine = make_engine(db_url, role="consumer")
    create_schema(engine, workload.tables())
    problems = check_durability(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            settings = {"journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                        "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar()}
        else:
            settings = {k: conn.exec_driver_sql(f"SHOW {k}").scalar() for k in ("fsync", "synchronous_commit")}
            settings["server_version"] = conn.exec_driver_sql("SHOW server_version").scalar()
        conn.rollback()
    engine.dispose()
    return {"engine": engine_name(db_url), "settings": settings, "durability_problems": problems}


def warehouse_rows(db_url: str, workload: Workload) -> int:
    from sqlalchemy import func, select

    from warehouse.db import make_engine

    engine = make_engine(db_url, role="web")
    tables = workload.tables()
    with engine.connect() as conn:
        n = sum(conn.execute(select(func.count()).select_from(ft.table)).scalar_one() for ft in tables)
        conn.rollback()
    engine.dispose()
    return int(n)


def live_event_total(r: redis.Redis) -> float:
    """Sum of every `<system>.events` counter over all days in live state (one per new event)."""
    total = 0.0
    for key in r.scan_iter(match="live:sum:*", count=1000):
        for metric, value in r.hgetall(key).items():
            if metric.endswith(b".events"):
                total += float(value)
    return total


def create_groups(r: redis.Redis, streams: Sequence[str]) -> None:
    from streams.consumer import ensure_group

    for s in streams:
        ensure_group(r, s, GROUP)


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """Terminate one child we started (by its own pid), then kill it if it does not exit."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def child(module_args: list[str], **kw: Any) -> subprocess.Popen[Any]:
    """A bench child process: `python -m <module> ...` from the repository root."""
    return subprocess.Popen([sys.executable, "-m", *module_args], cwd=ROOT, **kw)


# --- stage timers ----------------------------------------------------------------------------------------
class Stages:
    """Exclusive wall time per stage of nested calls (a stage's time excludes the stages it calls).

    Wrapping is per call of a per-batch function (read, write_batch, apply, ...), so it costs a
    few microseconds per batch of 1,000 events and never touches the per-event path.
    """

    def __init__(self) -> None:
        self.excl: dict[str, float] = defaultdict(float)  # wall seconds
        self.cpu: dict[str, float] = defaultdict(float)  # this thread's CPU seconds
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list[Any]] = []  # [stage, wall start, cpu start, child wall, child cpu]

    def current(self) -> str | None:
        return self._stack[-1][0] if self._stack else None

    def wrap(self, fn: Callable[..., Any], stage: str | Callable[[], str]) -> Callable[..., Any]:
        perf, cpu = time.perf_counter, time.thread_time

        def timed(*a: Any, **k: Any) -> Any:
            name = stage if isinstance(stage, str) else stage()
            frame = [name, perf(), cpu(), 0.0, 0.0]
            self._stack.append(frame)
            try:
                return fn(*a, **k)
            finally:
                self._stack.pop()
                wall, used = perf() - frame[1], cpu() - frame[2]
                self.excl[name] += wall - frame[3]
                self.cpu[name] += used - frame[4]
                self.calls[name] += 1
                if self._stack:
                    self._stack[-1][3] += wall
                    self._stack[-1][4] += used

        return timed

    def patch(self, obj: Any, attr: str, stage: str) -> None:
        setattr(obj, attr, self.wrap(getattr(obj, attr), stage))

    def reset(self) -> None:
        self.excl.clear()
        self.cpu.clear()
        self.calls.clear()

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {"excl": dict(self.excl), "cpu": dict(self.cpu), "calls": dict(self.calls)}

    def add(self, snap: dict[str, dict[str, float]]) -> None:
        for k, v in snap.get("excl", {}).items():
            self.excl[k] += v
        for k, v in snap.get("cpu", {}).items():
            self.cpu[k] += v
        for k, v in snap.get("calls", {}).items():
            self.calls[k] += int(v)

    def report(self, events: int) -> list[dict[str, Any]]:
        """Rows per stage in pipeline order: wall and CPU µs per event, share of the wall time, calls.

        Wall minus CPU is time spent waiting: on Redis or the database (their own CPU, fsync), or
        for a CPU while other processes ran.
        """
        total = sum(self.excl.values()) or 1.0
        per = (lambda sec: round(1e6 * sec / events, 2)) if events else (lambda sec: None)
        rows = []
        for key, title in STAGE_ORDER:
            if key in self.excl:
                sec = self.excl[key]
                rows.append({"stage": key, "what": title, "seconds": round(sec, 4),
                             "share_pct": round(100 * sec / total, 1), "us_per_event": per(sec),
                             "cpu_us_per_event": per(self.cpu.get(key, 0.0)), "calls": self.calls[key]})
        rows.append({"stage": "total", "what": "total (one consumer's loop)", "seconds": round(total, 4),
                     "share_pct": 100.0, "us_per_event": per(total), "cpu_us_per_event": per(sum(self.cpu.values())),
                     "calls": None})
        return rows


STAGE_ORDER = [
    ("xreadgroup", "XREADGROUP (Redis round trip + reply parse)"),
    ("decode", "decode (msgspec, per entry)"),
    ("fold_deltas", "fold live-state deltas (analytics.deltas.fold)"),
    ("facts_insert", "sink: fact rows insert (executemany / COPY + INSERT)"),
    ("rollup_fold", "sink: rollup increments fold"),
    ("rollup_upsert", "sink: rollup + seq upserts"),
    ("db_commit", "sink: COMMIT of the batch (fsync)"),
    ("sink_other", "sink: connect, group, outbox + position rows"),
    ("lua_apply", "Lua apply + XACK"),
    ("outbox_delete", "outbox delete (mark_applied, own transaction)"),
    ("outbox_commit", "outbox delete COMMIT (second fsync)"),
    ("outbox_check", "outbox check per step (pending_outbox SELECT)"),
    ("reclaim", "XAUTOCLAIM (every claim_idle/4)"),
    ("push_note", "pusher note (on_applied)"),
    ("loop_other", "consumer loop and bookkeeping"),
]


def instrument_consumer(consumer: Any) -> Stages:
    """Time the consumer's stages in this process (bench children only; product code is untouched)."""
    import warehouse.sink as sink_mod
    from warehouse.rollups import Increments

    st = Stages()
    st.patch(consumer, "step", "loop_other")
    st.patch(consumer, "flush_outbox", "loop_other")
    st.patch(consumer.sink, "pending_outbox", "outbox_check")
    st.patch(consumer, "reclaim", "reclaim")
    st.patch(consumer.r, "xreadgroup", "xreadgroup")
    st.patch(consumer, "handle", "decode")  # exclusive time of handle() is the decode loop
    st.patch(consumer, "commit", "loop_other")
    st.patch(consumer.sink, "write_batch", "sink_other")
    consumer.deltas = st.wrap(consumer.deltas, "fold_deltas")
    sink_mod.insert_new = st.wrap(sink_mod.insert_new, "facts_insert")
    Increments.add = st.wrap(Increments.add, "rollup_fold")  # type: ignore[method-assign]
    Increments.apply = st.wrap(Increments.apply, "rollup_upsert")  # type: ignore[method-assign]
    st.patch(consumer.live, "apply", "lua_apply")
    st.patch(consumer.sink, "mark_applied", "outbox_delete")
    if consumer.on_applied is not None:
        consumer.on_applied = st.wrap(consumer.on_applied, "push_note")
    dialect = consumer.sink.engine.dialect
    # mark_applied's own transaction commits too: that is the second fsync of every batch
    dialect.do_commit = st.wrap(dialect.do_commit,
                                lambda: "outbox_commit" if st.current() == "outbox_delete" else "db_commit")
    return st


# --- process figures -------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def cpu_seconds(pid: int | None = None) -> float:
    import psutil

    t = psutil.Process(pid or os.getpid()).cpu_times()
    return t.user + t.system


def percentiles(values: Sequence[float], ps: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles."""
    if not values:
        return {f"p{int(p)}": float("nan") for p in ps}
    s = sorted(values)
    out = {}
    for p in ps:
        k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
        out[f"p{int(p)}"] = s[k]
    return out


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return 60.0 * sxy / sxx if sxx else 0.0


# --- output -----------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import psutil

    return {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "mem_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(terse=True)}


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str = "") -> str:
    """A plain-text table: columns are (key, header); numbers are formatted with separators."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return "" if v is None else str(v)

    cells = [[fmt(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, (_, h) in enumerate(columns)]
    line = "  ".join(h.ljust(w) for (_, h), w in zip(columns, widths))
    out = [title] if title else []
    out += [line, "  ".join("-" * w for w in widths)]
    for c in cells:
        out.append("  ".join(v.rjust(w) if v[:1].isdigit() or v[:1] == "-" else v.ljust(w) for v, w in zip(c, widths)))
    return "\n".join(out)


def write_json(name: str, data: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


# --- producer at a steady rate (push and memory benches) -----------------------------------------------------
def produce_at_rate(redis_url: str, workload: Workload, rate: float, seconds: float, *, tick: float = 0.01,
                    stop: threading.Event | None = None) -> dict[str, Any]:
    """XADD `rate` events/s for `seconds`; each event's `ts` is its XADD wall time (set just before
    the pipeline is sent), which is what the push bench measures latency from."""
    from streams.producer import Producer

    stop = stop or threading.Event()
    producer = Producer(connect(redis_url), workload.codec())
    make = workload.live_factory()
    t0 = time.monotonic()
    sent, late_ticks = 0, 0
    next_tick = t0
    while not stop.is_set():
        now_m = time.monotonic()
        elapsed = now_m - t0
        if elapsed >= seconds:
            break
        due = int(rate * elapsed) - sent
        if due > 0:
            producer.submit(make(due, dt.datetime.now(dt.UTC)))
            sent += due
        next_tick += tick
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late_ticks += 1
            next_tick = time.monotonic()
    elapsed = time.monotonic() - t0
    return {"sent": sent, "seconds": elapsed, "rate": sent / elapsed if elapsed else 0.0, "late_ticks": late_ticks}


# --- Socket.IO clients -----------------------------------------------------------------------------------
def client_kind(requested: str = "auto") -> str:
    """`async` (socketio.AsyncClient; needs aiohttp for websockets) or `threading` (socketio.Client).

    The threading client runs ~4 OS threads per client; with 100 or more clients in a process on 2
    cores their GIL hand-offs add tens to hundreds of ms to what is measured, so `auto` prefers the
    asyncio client (one thread per process) when aiohttp is installed.
    """
    if requested != "auto":
        return requested
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return "threading"
    return "async"


def _on_update(samples: list[tuple[float, int, int]]) -> Callable[[dict], None]:
    def on_update(msg: dict) -> None:
        recv = time.time()
        srcs = msg.get("sources") or {}
        newest = max((s.get("last", 0) for s in srcs.values()), default=0)
        samples.append((recv, newest, int(msg.get("t", 0))))

    return on_update


def _finish_clients(out_path: str, samples: list, connected: int, n: int, errors: list[str]) -> None:
    result = {"clients": n, "samples": list(samples), "connect_errors": errors, "connected_at_end": connected}
    Path(out_path).write_text(json.dumps(result))
    # a clean disconnect takes ~3 s per threading client; the server sees the sockets close when we exit
    sys.stdout.flush()
    os._exit(0)


def run_clients(url: str, n: int, out_path: str, *, topic: str = "overview", kind: str = "auto",
                cookie: str = "") -> None:
    """N python-socketio clients (websocket transport) subscribed to `topic` in this process.

    Prints `ready` once all are subscribed, records (receipt wall time, newest event ms in the
    message, flush time ms) for every `update`, and on a `stop` line on stdin writes the samples
    as JSON to out_path and exits.
    """
    import socketio

    from streams.push import NAMESPACE

    samples: list[tuple[float, int, int]] = []
    errors: list[str] = []
    if client_kind(kind) == "async":
        import asyncio

        async def main() -> None:
            clients: list[Any] = []

            async def one() -> None:
                c = socketio.AsyncClient(reconnection=False)
                c.on("update", _on_update(samples), namespace=NAMESPACE)
                for attempt in range(5):
                    try:
                        await c.connect(url, transports=["websocket"], namespaces=[NAMESPACE], wait_timeout=10,
                                        headers={"Cookie": cookie})
                        break
                    except Exception as exc:  # noqa: BLE001 - retried, then reported
                        if attempt == 4:
                            raise
                        errors.append(str(exc))
                        await asyncio.sleep(0.5)
                snap = await c.call("subscribe", {"topics": [topic]}, namespace=NAMESPACE, timeout=30)
                if not isinstance(snap, dict) or "error" in snap:
                    raise RuntimeError(f"subscribe failed: {snap}")
                clients.append(c)

            for i in range(0, n, 10):
                await asyncio.gather(*(one() for _ in range(min(10, n - i))))
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            _finish_clients(out_path, samples, sum(1 for c in clients if c.connected), len(clients), errors)

        asyncio.run(main())
        return
    clients = []
    for _ in range(n):
        c = socketio.Client(reconnection=False)
        c.on("update", _on_update(samples), namespace=NAMESPACE)
        for attempt in range(5):
            try:
                c.connect(url, transports=["websocket"], namespaces=[NAMESPACE], wait_timeout=10,
                          headers={"Cookie": cookie})
                break
            except Exception as exc:  # noqa: BLE001 - retried, then reported
                if attempt == 4:
                    raise
                errors.append(str(exc))
                time.sleep(0.5)
        snap = c.call("subscribe", {"topics": [topic]}, namespace=NAMESPACE, timeout=30)
        if not isinstance(snap, dict) or "error" in snap:
            raise RuntimeError(f"subscribe failed: {snap}")
        clients.append(c)
    print("ready", flush=True)
    sys.stdin.readline()
    _finish_clients(out_path, samples, sum(1 for c in clients if c.connected), len(clients), errors)


class ClientProcs:
    """Socket.IO clients spread over a few processes (threading clients: ~4 threads each)."""

    def __init__(self, url: str, n: int, procs: int, tmp: Path, kind: str = "auto", cookie: str = ""):
        self.kind = client_kind(kind)
        self.parts = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        self.parts = [p for p in self.parts if p]
        self.paths = [tmp / f"clients-{i}.json" for i in range(len(self.parts))]
        self.procs = [child(["bench.common", "clients", "--url", url, "--n", str(k), "--out", str(p),
                             "--kind", self.kind, "--cookie", cookie],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for k, p in zip(self.parts, self.paths)]

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for p in self.procs:
            while True:
                line = p.stdout.readline()  # type: ignore[union-attr]
                if line.strip() == "ready":
                    break
                if not line or time.monotonic() > deadline:
                    raise RuntimeError("a client process did not get ready")

    def stop(self) -> list[dict[str, Any]]:
        results = []
        for p in self.procs:
            with contextlib.suppress(BrokenPipeError):
                p.stdin.write("stop\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
        for p, path in zip(self.procs, self.paths):
            try:
                p.wait(120)
            except subprocess.TimeoutExpired:
                stop_process(p)
            if path.exists():
                results.append(json.loads(path.read_text()))
        return results

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]


# --- worker and web processes (the push path) ------------------------------------------------------------------
def run_worker_process(redis_url: str, db_url: str, kind: str, name: str, channel: str, batch: int,
                       stats_path: str | None = None) -> None:
    """What `app.py worker` runs: consumer + sink + live state + pusher on the message queue, under run_worker.

    With `stats_path`, the consumer's stages and the pusher's flushes are timed and written there as
    JSON when the process is stopped (SIGTERM).
    """
    from streams.consumer import StreamConsumer
    from streams.live_state import LiveState
    from streams.push import Pusher, socketio_emitter
    from streams.worker import run_worker
    from warehouse.db import make_engine
    from warehouse.sink import Sink

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


def run_web_process(redis_url: str, kind: str, port: int, channel: str) -> None:
    """What `app.py web` serves on /live: Flask + SocketIO (threading, Redis message queue) + the live socket."""
    from flask import Flask
    from flask_socketio import SocketIO

    from auth.sessions import SessionStore
    from callbacks.live_socket import SocketSessions, register_live_socket
    from streams.live_state import LiveState

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


def wait_port(port: int, proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


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


def start_push_stack(redis_url: str, db_url: str, kind: str, tmp: Path, *, batch: int = 1000,
                     stats: bool = True) -> PushStack:
    """Start the worker and web processes; the web process's log (werkzeug reports torn-down websockets
    there) goes to tmp/web.log. With `stats`, the worker times its stages and steps and writes them to
    tmp/worker-stats.json when stopped (it keeps every step's duration: not for the memory bench)."""
    port = free_port()
    worker = child(["bench.common", "worker", "--redis", redis_url, "--db", db_url, "--kind", kind,
                    "--channel", CHANNEL, "--batch", str(batch)]
                   + (["--stats", str(tmp / "worker-stats.json")] if stats else []),
                   stdout=subprocess.PIPE, text=True)
    web_log = open(tmp / "web.log", "wb")  # noqa: SIM115 - owned by the child for its lifetime
    web = child(["bench.common", "web", "--redis", redis_url, "--kind", kind, "--port", str(port),
                 "--channel", CHANNEL], stdout=web_log, stderr=subprocess.STDOUT)
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


COOKIE = "cc_session"


def viewer_cookie(redis_url: str) -> str:
    """A signed-in leadership session, as a browser would hold after login (sockets need one)."""
    from auth.sessions import SessionStore

    s = SessionStore(connect(redis_url), idle_s=1800).create(
        user_id=0, username="bench", roles=["leadership"], unit_id=None, stage="full", address="127.0.0.1", mfa=False)
    return f"{COOKIE}={s.sid}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="bench child processes (started by the benches)")
    sub = parser.add_subparsers(dest="role", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--redis", required=True)
    w.add_argument("--db", required=True)
    w.add_argument("--kind", default="auto")
    w.add_argument("--name", default="c1")
    w.add_argument("--channel", default=CHANNEL)
    w.add_argument("--batch", type=int, default=1000)
    w.add_argument("--stats", default=None, help="write stage timings here on exit")
    web = sub.add_parser("web")
    web.add_argument("--redis", required=True)
    web.add_argument("--kind", default="auto")
    web.add_argument("--port", type=int, required=True)
    web.add_argument("--channel", default=CHANNEL)
    c = sub.add_parser("clients")
    c.add_argument("--url", required=True)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--topic", default="overview")
    c.add_argument("--kind", default="auto", choices=["auto", "async", "threading"])
    c.add_argument("--cookie", default="", help="Cookie header of a signed-in session (PushStack.cookie)")
    p = sub.add_parser("produce")
    p.add_argument("--redis", required=True)
    p.add_argument("--kind", default="auto")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    if args.role == "worker":
        run_worker_process(args.redis, args.db, args.kind, args.name, args.channel, args.batch, args.stats)
    elif args.role == "web":
        run_web_process(args.redis, args.kind, args.port, args.channel)
    elif args.role == "clients":
        run_clients(args.url, args.n, args.out, topic=args.topic, kind=args.kind, cookie=args.cookie)
    elif args.role == "produce":
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print(json.dumps(produce_at_rate(args.redis, load_workload(args.kind), args.rate, args.seconds, stop=stop)),
              flush=True)


if __name__ == "__main__":
    main()
