"""Private servers and worker processes for the fault tests, each started and killed for real.

A private `redis-server` per test on a free loopback port in its own folder (kill -9 and restart
on the same dir and port), a private PostgreSQL cluster (initdb + pg_ctl in a temp dir, run as
the postgres OS user; never the machine's shared cluster), and consumer processes
(tests/fault/proc_consumer.py), each in its own process group so it can be killed with SIGKILL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from settings import Settings
from streams.redis_conn import redis_binary

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


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

    def __init__(self, directory: Path, *, appendonly: bool = True, port: int | None = None,
                 appendfsync: str = "everysec"):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 20.0) -> float:
        """Start (or restart) on the same dir and port; returns seconds until it answered PING."""
        args = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", self.appendfsync,
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
                 batch_size: int = Settings.batch_size, max_tries: int = 5, durability: str = "strict",
                 lag_alarm_s: float = 60.0):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        settings = self.dir / "settings.yaml"
        settings.write_text(f"claim_idle_ms: {claim_idle_ms}\nbatch_size: {batch_size}\nmax_tries: {max_tries}\n"
                            f"lag_alarm_s: {lag_alarm_s}\n")
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
