"""The pieces of the fault tests: private servers, worker processes, a load with a ledger, checks.

Everything is real: a private `redis-server` per test on a free loopback port in a temp folder,
SQLite files or a private PostgreSQL cluster, and consumer processes (tests/fault/proc_consumer.py)
that are killed with SIGKILL. The ledger is Jepsen's: each submitted event is *ok* (Redis
returned its id), *fail* (refused, and provably never written: the whole call ran while the
fault made any write impossible) or *unknown* (refused or raised while a write may have
happened, e.g. the connection broke after the request left). At the end every ok event must be
in the warehouse exactly once, no fail event at all, and nothing the ledger never offered.
"""

from __future__ import annotations

import collections
import datetime as dt
import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, func, select, text

from datasources.base import Event, make_key
from streams.codec import DEAD_LETTER, Codec
from streams.producer import Producer, Unavailable
from streams.redis_conn import connect, redis_binary
from tests.streams.schemas import Gate, Meal
from warehouse.facts import FactTables
from warehouse.ops import outbox

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
CODEC = Codec([Meal, Gate])
STREAMS = ["ev:tcant", "ev:tgate"]
GROUP = "warehouse"
FIGURES = ROOT / "bench" / "out" / "fault_figures.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> float:
    """Poll until pred() is truthy; returns the seconds it took, fails the test with `what` on timeout."""
    t0 = time.monotonic()
    while True:
        try:
            if pred():
                return time.monotonic() - t0
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# --- Redis ---------------------------------------------------------------------------------------------
class RedisServer:
    """A private redis-server on a TCP port with its own dir; kill -9 and restart on the same dir/port."""

    def __init__(self, directory: Path, *, appendonly: bool = True, port: int | None = None):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 20.0) -> float:
        """Start (or restart) on the same dir and port; returns seconds until it answered PING."""
        args = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
                "--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "no", "--protected-mode", "no",
                "--logfile", str(self.dir / "redis.log")]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited {self.proc.returncode}; see {self.dir / 'redis.log'}")
                try:
                    if probe.ping():
                        return time.monotonic() - t0
                except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                    pass  # refused, or still LOADING the AOF
                if time.monotonic() - t0 > timeout:
                    raise RuntimeError(f"redis-server did not answer within {timeout} s")
                time.sleep(0.02)
        finally:
            probe.close()

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill9()


# --- PostgreSQL ----------------------------------------------------------------------------------------
def pg_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def private_pg_unavailable() -> str | None:
    """Why a private PostgreSQL cannot be run here, or None."""
    bins = pg_bin_dir()
    if bins is None or not (bins / "initdb").exists():
        return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl) are not installed"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` OS user to run a private cluster as"
    if shutil.which("runuser") is None:
        return "runuser is not available"
    if os.geteuid() != 0:
        return "a private cluster is run as the postgres user via runuser, which needs root"
    return None


class PrivatePostgres:
    """initdb + pg_ctl in a temp dir on a free port, as the postgres OS user (never the shared cluster)."""

    def __init__(self) -> None:
        self.bins = pg_bin_dir()
        assert self.bins is not None
        self.base = Path(tempfile.mkdtemp(prefix="fault-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        pw = pwd.getpwnam("postgres")
        os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", "postgres", "--", str(self.bins / tool), *args],
                              capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> float:
        t0 = time.monotonic()
        opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=on "
                "-c synchronous_commit=on -c max_connections=50")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "pg.log"), "-w", "-t", "60",
                  "-o", opts, "start")
        return time.monotonic() - t0

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


# --- worker processes ----------------------------------------------------------------------------------
class Workers:
    """Consumer processes (tests/fault/proc_consumer.py), each in its own process group."""

    def __init__(self, workdir: Path, *, redis_url: str, database_url: str, claim_idle_ms: int = 2000,
                 batch_size: int = 1000, max_tries: int = 5, durability: str = "strict"):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        settings = self.dir / "settings.yaml"
        settings.write_text(f"claim_idle_ms: {claim_idle_ms}\nbatch_size: {batch_size}\nmax_tries: {max_tries}\n")
        self.claim_idle_ms = claim_idle_ms
        self.env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        self.env.update({"REDIS_URL": redis_url, "DATABASE_URL": database_url, "DURABILITY": durability,
                         "DATA_DIR": str(self.dir / "data"), "SETTINGS_FILE": str(settings), "TZ": "Asia/Shanghai",
                         "PYTHONUNBUFFERED": "1"})
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.args: dict[str, list[str]] = {}
        self.kills = 0

    def log(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        assert name not in self.procs or self.procs[name].poll() is not None, f"{name} is running"
        self.args[name] = list(extra)
        out = open(self.log(name), "ab")  # noqa: SIM115 - the child owns it from here
        try:
            proc = subprocess.Popen([PY, "-m", "tests.fault.proc_consumer", "--name", name, *extra], cwd=ROOT,
                                    env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            out.close()
        self.procs[name] = proc
        return proc

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, *self.args.get(name, []))

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.kills += 1

    def signal_all(self, sig: int) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, sig)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def stop_all(self, timeout: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)

    def log_lines(self, needle: str) -> list[str]:
        out: list[str] = []
        for name in self.procs:
            path = self.log(name)
            if path.exists():
                out += [f"{name}: {line}" for line in path.read_text(errors="replace").splitlines() if needle in line]
        return out

    def tail(self, lines: int = 30) -> str:
        parts = []
        for name in self.procs:
            path = self.log(name)
            if path.exists():
                body = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(body))
        return "\n".join(parts)


# --- events and the ledger ----------------------------------------------------------------------------
class EventMaker:
    """Canteen meals and gate passes, time-ordered keys, per-source sequences; person `poison` is special."""

    def __init__(self, seed: int = 1):
        self.rng = random.Random(seed)
        self.seq: collections.Counter[str] = collections.Counter()
        self.last_ms = 0

    def _ts(self, now: dt.datetime | None) -> dt.datetime:
        # strictly increasing event times: "newest value" in live state is then order-independent
        ms = max(int((now or dt.datetime.now(dt.UTC)).timestamp() * 1000), self.last_ms + 1)
        self.last_ms = ms
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

    def meal(self, now: dt.datetime | None = None, person: str | None = None) -> Meal:
        ts = self._ts(now)
        self.seq["t.cant"] += 1
        return Meal(source="t.cant", ts=ts, key=make_key(ts), seq=self.seq["t.cant"],
                    person_id=person or f"P{self.rng.randrange(1, 3000):05d}",
                    amount=Decimal(self.rng.randrange(300, 3500)) / 100,
                    method=self.rng.choice(("card", "face", "tray")))

    def gate(self, now: dt.datetime | None = None) -> Gate:
        ts = self._ts(now)
        self.seq["t.gate"] += 1
        return Gate(source="t.gate", ts=ts, key=make_key(ts), seq=self.seq["t.gate"],
                    gate_id=f"GP{self.rng.randrange(1, 9):02d}", direction=self.rng.choice(("in", "in", "out")),
                    queue=float(self.rng.randrange(0, 40)))

    def batch(self, n: int, now: dt.datetime | None = None) -> list[Event]:
        return [self.meal(now) if self.rng.random() < 0.6 else self.gate(now) for _ in range(n)]


@dataclass
class Op:
    keys: list[str]
    start: float
    end: float
    outcome: str  # ok | refused | error
    error: str = ""


@dataclass
class Verdict:
    ok: int
    fail: int
    unknown: int
    stored: int
    lost: list[str]
    duplicated: list[str]
    fail_stored: list[str]
    phantom: list[str]
    unknown_stored: int

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.fail_stored or self.phantom)

    def summary(self) -> dict[str, int]:
        return {"ok": self.ok, "fail": self.fail, "unknown": self.unknown, "stored": self.stored,
                "lost": len(self.lost), "duplicated": len(self.duplicated), "fail_stored": len(self.fail_stored),
                "phantom": len(self.phantom), "unknown_stored": self.unknown_stored}


class Ledger:
    """Every submit call with its time span and outcome; faults are time windows given by the test."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.faults: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def record(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def fault(self, begin: float, end: float) -> None:
        """A window in which no write can reach Redis (server dead, or every byte blackholed)."""
        self.faults.append((begin, end))

    def status(self, op: Op) -> str:
        if op.outcome == "ok":
            return "ok"
        if op.outcome == "refused" and any(b <= op.start and op.end <= e for b, e in self.faults):
            return "fail"
        return "unknown"

    def keys_by_status(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {"ok": set(), "fail": set(), "unknown": set()}
        with self._lock:
            ops = list(self.ops)
        for op in ops:
            out[self.status(op)].update(op.keys)
        # a key submitted again (retries, duplicates) is ok if any copy was accepted
        out["fail"] -= out["ok"] | out["unknown"]
        out["unknown"] -= out["ok"]
        return out

    def ops_in(self, begin: float, end: float) -> list[Op]:
        with self._lock:
            return [op for op in self.ops if begin <= op.start and op.end <= end]

    def check(self, stored: collections.Counter[str]) -> Verdict:
        k = self.keys_by_status()
        everything = k["ok"] | k["fail"] | k["unknown"]
        return Verdict(
            ok=len(k["ok"]), fail=len(k["fail"]), unknown=len(k["unknown"]), stored=sum(stored.values()),
            lost=sorted(k["ok"] - stored.keys()), duplicated=sorted(x for x, n in stored.items() if n > 1),
            fail_stored=sorted(k["fail"] & stored.keys()), phantom=sorted(stored.keys() - everything),
            unknown_stored=len(k["unknown"] & stored.keys()))


class Load(threading.Thread):
    """A producer at a steady rate: `rate` events/s in pipelines of `batch`, every call in the ledger.

    After an outage it does not burst to catch up: a source that got 503 would retry its own
    events, which the tests that need it do explicitly.
    """

    def __init__(self, producer: Producer, ledger: Ledger, maker: EventMaker, *, rate: float = 2000,
                 batch: int = 100, make: Callable[[int], list[Event]] | None = None):
        super().__init__(name="load", daemon=True)
        self.producer, self.ledger, self.maker = producer, ledger, maker
        self.rate, self.size = rate, batch
        self.make = make or maker.batch
        self.stop_event = threading.Event()
        self.inject: list[Event] = []  # extra events to send with the next batch
        self.accepted = 0
        self.refused = 0
        self.errors = 0

    def run(self) -> None:
        interval = self.size / self.rate
        next_t = time.monotonic()
        while not self.stop_event.is_set():
            evs = self.make(self.size)
            if self.inject:
                evs, self.inject = evs + self.inject, []
            t0 = time.monotonic()
            try:
                self.producer.submit(evs)
                self.ledger.record(Op([e.key for e in evs], t0, time.monotonic(), "ok"))
                self.accepted += len(evs)
            except Unavailable as exc:
                self.ledger.record(Op([e.key for e in evs], t0, time.monotonic(), "refused", str(exc)[:200]))
                self.refused += len(evs)
            except Exception as exc:  # noqa: BLE001 - an unexpected outcome is an unknown, never dropped
                self.ledger.record(Op([e.key for e in evs], t0, time.monotonic(), "error", repr(exc)[:200]))
                self.errors += len(evs)
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                self.stop_event.wait(delay)
            elif delay < -1.0:
                next_t = time.monotonic()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)


def producer_for(url: str) -> Producer:
    return Producer(connect(url), CODEC)


# --- checks --------------------------------------------------------------------------------------------
def stored_keys(engine: Engine, tables: FactTables) -> collections.Counter[str]:
    """Rows per key across the fact tables (a key stored twice would count 2)."""
    counts: collections.Counter[str] = collections.Counter()
    with engine.connect() as conn:
        for ft in tables:
            for (key,) in conn.execute(select(ft.table.c.key)):
                counts[key] += 1
        conn.rollback()
    return counts


def row_count(engine: Engine, tables: FactTables) -> int:
    with engine.connect() as conn:
        n = sum(conn.execute(select(func.count()).select_from(ft.table)).scalar_one() for ft in tables)
        conn.rollback()
    return n


def outbox_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
        conn.rollback()
    return n


def backlog(r: redis.Redis) -> tuple[int, int]:
    """(lag, pending) summed over the streams: entries not yet delivered, delivered but not acked."""
    lag = pending = 0
    for s in STREAMS:
        if not r.exists(s):
            continue
        for g in r.xinfo_groups(s):
            if (g["name"].decode() if isinstance(g["name"], bytes) else g["name"]) != GROUP:
                continue
            pending += int(g["pending"])
            lag += int(g["lag"]) if g.get("lag") is not None else int(r.xlen(s))
    return lag, pending


def drained(r: redis.Redis, engine: Engine) -> bool:
    lag, pending = backlog(r)
    return lag == 0 and pending == 0 and outbox_rows(engine) == 0


def live_totals(r: redis.Redis) -> dict[str, float]:
    """Today's sums summed over every day kept, plus the levels and source sequence counts."""
    out: collections.Counter[str] = collections.Counter()
    for key in r.scan_iter(match="live:sum:*", count=1000):
        for metric, value in r.hgetall(key).items():
            out[metric.decode()] += float(value)
    for metric, value in r.hgetall("live:level").items():
        out["level:" + metric.decode()] = float(value)
    for key in r.scan_iter(match="live:srcseq:*", count=1000):
        out["seq_n:" + key.decode().split(":", 2)[2]] = float(r.hget(key, "n") or 0)
    return dict(out)


def warehouse_totals(engine: Engine, tables: FactTables) -> dict[str, float]:
    meal, gate = tables["tcant.meal"].table, tables["tgate.pass"].table
    with engine.connect() as conn:
        meals = conn.execute(select(func.count()).select_from(meal)).scalar_one()
        revenue = conn.execute(select(func.coalesce(func.sum(meal.c.amount), 0))).scalar_one()
        gates = conn.execute(select(func.count()).select_from(gate)).scalar_one()
        ins = conn.execute(select(func.count()).select_from(gate).where(gate.c.direction == "in")).scalar_one()
        conn.rollback()
    return {"tcant.events": meals, "tcant.meals": meals, "tcant.revenue": float(revenue), "tgate.events": gates,
            "level:tgate.onsite": ins - (gates - ins), "seq_n:t.cant": meals, "seq_n:t.gate": gates}


def assert_live_matches_warehouse(r: redis.Redis, engine: Engine, tables: FactTables) -> dict[str, float]:
    live, wh = live_totals(r), warehouse_totals(engine, tables)
    diffs = {k: (live.get(k, 0.0), v) for k, v in wh.items() if abs(live.get(k, 0.0) - float(v)) > 1e-6 * max(1, v)}
    assert not diffs, f"live state differs from the warehouse (live, warehouse): {diffs}"
    return wh


def dead_letters(r: redis.Redis) -> list[dict[str, bytes]]:
    return [fields for _id, fields in r.xrange(DEAD_LETTER)]


def failed_tries(r: redis.Redis) -> dict[str, int]:
    """Entries counted as failing by a handler (streams.consumer count_failure) and not dead-lettered."""
    out: dict[str, int] = {}
    for key in r.scan_iter(match="tries:*", count=1000):
        for entry, n in r.hgetall(key).items():
            out[f"{key.decode()}/{entry.decode()}"] = int(n)
    return out


def sql_ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# --- figures -------------------------------------------------------------------------------------------
class Figures:
    """Measured numbers: printed (pytest -s shows them) and merged into bench/out/fault_figures.json."""

    def __init__(self, test: str):
        self.test = test
        self.values: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value
        print(f"[fault] {self.test}: {key} = {value}", flush=True)

    def update(self, items: dict[str, Any]) -> None:
        for k, v in items.items():
            self[k] = v

    def save(self, outcome: str) -> None:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        try:
            doc = json.loads(FIGURES.read_text())
        except (OSError, ValueError):
            doc = {}
        doc.setdefault("tests", {})[self.test] = {"outcome": outcome, "at": dt.datetime.now(dt.UTC).isoformat(
            timespec="seconds"), **self.values}
        doc["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
        FIGURES.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")


def rate(n: float, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def submit_all(producer: Producer, events: Sequence[Event], ledger: Ledger, batch: int = 500) -> None:
    for i in range(0, len(events), batch):
        chunk = list(events[i:i + batch])
        t0 = time.monotonic()
        producer.submit(chunk)
        ledger.record(Op([e.key for e in chunk], t0, time.monotonic(), "ok"))


def keys_of(events: Iterable[Event]) -> set[str]:
    return {e.key for e in events}


@dataclass
class Sampler:
    """Samples a function of time in a thread: (seconds since start, value)."""

    fn: Callable[[], Any]
    every: float = 0.25
    samples: list[tuple[float, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.samples.append((time.monotonic() - self._t0, self.fn()))
            except Exception:  # noqa: BLE001 - a sample may fail while the fault is on
                pass

    def stop(self) -> list[tuple[float, Any]]:
        self._stop.set()
        self._thread.join(5)
        return self.samples
