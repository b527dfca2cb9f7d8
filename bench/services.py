"""The processes a bench runs beside itself: a Redis server like production's, and child processes.

Redis is a private `redis-server` (AOF everysec, noeviction) on a free loopback port in a temp
folder, stopped and deleted afterwards, unless a URL is given. Children are `python -m <module> ...`
started from the repository root, each in a process of its own as in production, and stopped by
their own pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from streams.redis_conn import connect, redis_binary

ROOT = Path(__file__).resolve().parents[1]


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


def wait_port(port: int, proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")
