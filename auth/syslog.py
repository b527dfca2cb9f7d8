"""Forward the audit log to a syslog collector as RFC 5424 messages, over UDP (RFC 5426) or TCP with
octet-counting framing (RFC 6587).

Why: MLPS level 3 wants audit records kept beyond the reach of the hosts' own administrators (a log server or
the SOC's SIEM). The database log stays the record of truth; this sends a copy of every record, in id order,
and remembers in Redis (`audit:syslog:cursor`) the last id handed to the transport. The cursor moves only
after a send succeeded, so an outage of the collector delays records instead of losing them.

What "succeeded" means depends on the transport. TCP: the kernel took the bytes (sendall) on a connection
the collector had not closed; a collector that dies with a batch in flight can miss that batch, or, when a
send fails half-way, receive part of it twice (the `id` and `hash` parameters let it drop repeats). UDP: the
datagram left this host; a collector that is down loses what is sent meanwhile (the socket is connected, so
an ICMP "port unreachable" at least stops the next send). Use tcp:// where the guarantee matters.

One forwarder runs at a time across all web processes: the holder of `audit:syslog:lock` (SET NX PX, renewed
every round and batch); the others skip until it lapses.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import redis
from sqlalchemy import Engine, select as sql_select

from warehouse.identity import auth_audit

log = logging.getLogger(__name__)

APP_NAME = "cc-command-center"
FACILITY_AUTHPRIV = 10  # security/authorization messages that only privileged users may read
NOTICE, WARNING = 5, 4
SD_ID = "audit@32473"  # 32473 is the enterprise number RFC 5612 reserves for examples
SD_PARAMS = (("id", "id"), ("actor", "actor"), ("addr", "address"), ("object", "object"), ("result", "result"),
             ("hash", "hash"))  # (SD-PARAM name, audit column)
BOM = b"\xef\xbb\xbf"  # RFC 5424 6.4: a UTF-8 MSG starts with the BOM
NIL = "-"
MAX_MESSAGE = 8192  # bytes; collectors commonly accept 8 KiB (rsyslog's default), and a UDP datagram must fit
CURSOR_KEY = "audit:syslog:cursor"
LOCK_KEY = "audit:syslog:lock"
LOCK_MS = 10_000
COLUMNS = ("id", "ts", "actor", "address", "event", "object", "result", "reason", "hash")

# take the lock when free, renew it when ours: one round trip, no window between the check and the renewal
_ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _token(value: str, max_len: int) -> str:
    """A header field (RFC 5424 PRINTUSASCII, bounded length), or NIL when the value cannot be one."""
    ok = 0 < len(value) <= max_len and all(33 <= ord(c) <= 126 for c in value)
    return value if ok else NIL


def sd_escape(value: object) -> str:
    """An SD-PARAM value: '\\', '"' and ']' escaped with a backslash (RFC 5424 6.3.3), backslash first."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc3339_utc(ts: dt.datetime) -> str:
    """The record's time in UTC with microseconds and "Z": the audit chain hashes the same microseconds."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_rfc5424(record: Mapping[str, Any], *, hostname: str, app_name: str = APP_NAME,
                   facility: int = FACILITY_AUTHPRIV, procid: str = NIL, max_bytes: int = MAX_MESSAGE) -> bytes:
    """One audit record as an RFC 5424 message. PROCID is NIL by default: the forwarder's own process id
    would wrongly suggest it wrote the record. Only the MSG (the reason) is cut to fit `max_bytes`: the
    structured data keeps the id and hash, by which the full record can be found and checked."""
    if not 0 <= facility <= 23:
        raise ValueError(f"facility {facility}: expected 0 to 23")
    severity = NOTICE if record["result"] == "ok" else WARNING
    header = (f"<{facility * 8 + severity}>1 {rfc3339_utc(record['ts'])} {_token(hostname, 255)} "
              f"{_token(app_name, 48)} {_token(procid, 128)} {_token(str(record['event']), 32)} ")
    sd = "[" + SD_ID + "".join(f' {name}="{sd_escape(record[col])}"' for name, col in SD_PARAMS) + "]"
    out = (header + sd).encode()
    reason = str(record.get("reason") or "")
    if reason:
        msg = reason.encode()
        room = max(0, max_bytes - len(out) - 1 - len(BOM))
        if len(msg) > room:
            msg = msg[:room].decode("utf-8", "ignore").encode()  # never split a character
        out += b" " + BOM + msg
    return out


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 3.4.1 framing: the length, a space, the message; safe for messages containing newlines."""
    return b"%d " % len(message) + message


def parse_target(target: str) -> tuple[str, str, int]:
    """(transport, host, port) of udp://host:port or tcp://host:port; a bad setting fails at start-up."""
    u = urlsplit(target)
    try:
        port = u.port
    except ValueError:
        port = None
    if u.scheme not in ("udp", "tcp") or not u.hostname or not port or u.path not in ("", "/"):
        raise ValueError(f"syslog target {target!r}: expected udp://host:port or tcp://host:port")
    return u.scheme, u.hostname, port


class AuditForwarder:
    """Sends audit records past the Redis cursor to one collector; see the module notes for the guarantees."""

    def __init__(self, engine: Engine, r: redis.Redis, target: str, *, batch: int = 500,
                 clock: Callable[[], float] = time.monotonic, hostname: str | None = None,
                 app_name: str = APP_NAME, facility: int = FACILITY_AUTHPRIV, timeout_s: float = 5.0):
        self.transport, self.host, self.port = parse_target(target)
        self.engine, self.r, self.target, self.batch, self.clock = engine, r, target, batch, clock
        self.hostname = hostname or socket.gethostname()
        self.app_name, self.facility, self.timeout_s = app_name, facility, timeout_s
        self.owner = secrets.token_hex(8)  # this forwarder's lock value
        self._acquire = r.register_script(_ACQUIRE)
        self._release = r.register_script(_RELEASE)
        self._sock: socket.socket | None = None

    # --- the lock -----------------------------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take or renew the forwarding lock; False while another process holds it."""
        return bool(self._acquire(keys=[LOCK_KEY], args=[self.owner, LOCK_MS]))

    def release(self) -> None:
        """Give the lock up (only if still ours), so another process takes over without waiting it out."""
        self._release(keys=[LOCK_KEY], args=[self.owner])

    # --- forwarding ---------------------------------------------------------------------------------------
    def cursor(self) -> int:
        """The id of the last record handed to the transport (0: none yet)."""
        return int(self.r.get(CURSOR_KEY) or 0)

    def forward_once(self) -> int:
        """Send every record after the cursor, in id order; the number sent. 0 without the lock.
        A failed send raises (OSError) with the cursor after the last record that did go out."""
        if not self.acquire():
            return 0
        sent, cursor = 0, self.cursor()
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(sql_select(*[auth_audit.c[n] for n in COLUMNS]).where(auth_audit.c.id > cursor)
                                    .order_by(auth_audit.c.id).limit(self.batch)).mappings().all()
            if not rows:
                return sent
            messages = [format_rfc5424(row, hostname=self.hostname, app_name=self.app_name,
                                       facility=self.facility) for row in rows]
            self._deliver(rows, messages)
            sent, cursor = sent + len(rows), int(rows[-1]["id"])
            if len(rows) < self.batch or not self.acquire():  # a long backlog renews the lock per batch
                return sent

    def _deliver(self, rows: Sequence[Mapping[str, Any]], messages: list[bytes]) -> None:
        try:
            sock = self._connected()
            if self.transport == "tcp":
                sock.sendall(b"".join(octet_counted(m) for m in messages))
                self.r.set(CURSOR_KEY, int(rows[-1]["id"]))
                return
            done = None
            try:
                for row, message in zip(rows, messages):
                    sock.send(message)  # a connected socket: sendto its one peer
                    done = int(row["id"])
            finally:
                if done is not None:
                    self.r.set(CURSOR_KEY, done)
        except OSError:
            self.close_socket()
            raise

    def _connected(self) -> socket.socket:
        """The open socket, or a new one; a TCP connection the collector closed is replaced first."""
        if self._sock is not None and self.transport == "tcp" and not _peer_open(self._sock):
            self.close_socket()
        if self._sock is None:
            if self.transport == "tcp":
                self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            else:
                family, kind, proto, _, addr = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
                sock = socket.socket(family, kind, proto)
                sock.settimeout(self.timeout_s)
                try:
                    sock.connect(addr)
                except OSError:
                    sock.close()
                    raise
                self._sock = sock
        return self._sock

    def close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        """Close the connection and give the lock up; Redis being down here is not worth an exception."""
        self.close_socket()
        try:
            self.release()
        except redis.RedisError:
            pass

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Forward every `interval_s` until `stop` is set. An outage is logged once when it starts and once
        when it ends, not every second; the next round retries from the cursor."""
        down_since: float | None = None
        try:
            while not stop.is_set():
                try:
                    n = self.forward_once()
                except Exception as exc:  # a thread that died quietly would stop forwarding for good
                    if down_since is None:
                        down_since = self.clock()
                        log.warning("audit syslog forwarding to %s failed; retrying every %g s from record %s: %s",
                                    self.target, interval_s, _safe_cursor(self), exc,
                                    exc_info=not isinstance(exc, OSError | redis.RedisError))
                else:
                    if down_since is not None:
                        log.info("audit syslog forwarding to %s recovered after %.0f s; %d record(s) sent",
                                 self.target, self.clock() - down_since, n)
                        down_since = None
                stop.wait(interval_s)
        finally:
            self.close()


def _peer_open(sock: socket.socket) -> bool:
    """Whether a TCP collector still has the connection open: it never sends, so readable means closed."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return not readable or sock.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def _safe_cursor(fwd: AuditForwarder) -> str:
    try:
        return str(fwd.cursor() + 1)
    except redis.RedisError:
        return "?"
