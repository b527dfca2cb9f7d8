"""Audit forwarding to syslog: the exact RFC 5424 bytes, delivery in id order over real UDP and TCP sockets on
127.0.0.1, a cursor that survives a collector outage (nothing lost, nothing twice), and one forwarder at a time."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select

from auth import audit
from auth.audit import AuditEvent
from auth.syslog import CURSOR_KEY, LOCK_KEY, AuditForwarder, format_rfc5424, octet_counted, parse_target
from warehouse.identity import auth_audit

T0 = dt.datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)
BOM = b"\xef\xbb\xbf"


def add(engine: Engine, n: int = 1, **kw: Any) -> None:
    """n audit records, one second apart from T0 on (reason "r<id-ish>" unless given)."""
    for i in range(n):
        fields = {"actor": "user:probe", "event": "probe", "reason": f"r{i}", **kw}
        audit.record(engine, AuditEvent(**fields), now=T0 + dt.timedelta(seconds=i))


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(auth_audit).order_by(auth_audit.c.id)).mappings().all()


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    """A collector: a real UDP socket on a free port of 127.0.0.1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(3)
    yield s
    s.close()


def listener(port: int = 0) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4)
    s.settimeout(3)
    return s


def datagrams(s: socket.socket, n: int) -> list[bytes]:
    return [s.recv(65536) for _ in range(n)]


def silent(s: socket.socket) -> bool:
    """Nothing more arrives within 0.2 s."""
    s.settimeout(0.2)
    try:
        data = s.recv(65536)
    except TimeoutError:
        return True
    finally:
        s.settimeout(3)
    return data == b""  # a closed TCP peer: nothing more either


def frames(conn: socket.socket, n: int) -> list[bytes]:
    """n octet-counted frames (RFC 6587) from a TCP stream, checking the framing as it goes."""
    buf, out = b"", []
    while len(out) < n:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed after {len(out)} of {n} frames"
        buf += chunk
        while b" " in buf:
            length, rest = buf.split(b" ", 1)
            assert length.isdigit() and not length.startswith(b"0"), buf[:40]
            if len(rest) < int(length):
                break
            out.append(rest[:int(length)])
            buf = rest[int(length):]
    assert buf == b"" and len(out) == n
    return out


def test_one_record_in_exact_rfc5424_form_then_nothing_twice(idb: Engine, r: redis.Redis, udp: socket.socket) -> None:
    audit.record(idb, AuditEvent(actor='user:a"b]c\\d', event="login", result="fail", object="user:x",
                                 reason="密码错误 wrong password", address="10.0.0.1"), now=T0)
    digest = rows(idb)[0]["hash"]
    fwd = AuditForwarder(idb, r, f"udp://127.0.0.1:{udp.getsockname()[1]}", hostname="cc-web-1")
    assert fwd.forward_once() == 1
    expected = ('<84>1 2025-03-04T05:06:07.890123Z cc-web-1 cc-command-center - login '
                r'[audit@32473 id="1" actor="user:a\"b\]c\\d" addr="10.0.0.1" object="user:x" result="fail" '
                f'hash="{digest}"] ').encode() + BOM + "密码错误 wrong password".encode()
    assert datagrams(udp, 1) == [expected]
    assert fwd.cursor() == 1 and r.get(CURSOR_KEY) == b"1"
    assert fwd.forward_once() == 0 and silent(udp), "a second round sends nothing"
    fwd.close()


def test_format_details() -> None:
    rec = {"id": 7, "ts": dt.datetime(2025, 1, 2, 3, 4, 5), "actor": "system", "address": "", "event": "登录",
           "object": "", "result": "ok", "reason": "", "hash": "ab"}
    assert format_rfc5424(rec, hostname="h") == (b'<85>1 2025-01-02T03:04:05.000000Z h cc-command-center - - '
                                                 b'[audit@32473 id="7" actor="system" addr="" object="" '
                                                 b'result="ok" hash="ab"]'), "naive = UTC; no MSG without a reason"
    denied = {**rec, "event": "x" * 33, "result": "denied", "reason": "很长" * 5000}
    out = format_rfc5424(denied, hostname="bad host", facility=4, max_bytes=1000)
    assert out.startswith(b"<36>1 2025-01-02T03:04:05.000000Z - cc-command-center - - [audit@32473 ")
    assert len(out) <= 1000 and out.split(BOM, 1)[1].decode("utf-8").startswith("很长"), "cut on a character"
    assert octet_counted(b"a b\nc") == b"5 a b\nc"
    with pytest.raises(ValueError):
        format_rfc5424(rec, hostname="h", facility=24)
    assert parse_target("tcp://[::1]:6514") == ("tcp", "::1", 6514)
    for bad in ("syslog://h:514", "udp://h", "udp://:514", "tcp://h:0", "udp://h:514/x", "udp://h:99999"):
        with pytest.raises(ValueError):
            parse_target(bad)


def test_records_go_in_id_order_across_batches_and_the_cursor_follows(idb: Engine, r: redis.Redis,
                                                                      udp: socket.socket) -> None:
    add(idb, 5)
    fwd = AuditForwarder(idb, r, f"udp://127.0.0.1:{udp.getsockname()[1]}", batch=2, hostname="h")
    assert fwd.forward_once() == 5 and fwd.cursor() == 5
    got = datagrams(udp, 5)
    assert [m.split(b'id="')[1].split(b'"')[0] for m in got] == [b"1", b"2", b"3", b"4", b"5"]
    assert got == [format_rfc5424(row, hostname="h") for row in rows(idb)]
    add(idb, 1, event="later", result="fail")
    assert fwd.forward_once() == 1 and fwd.cursor() == 6 and b" later [" in datagrams(udp, 1)[0]
    assert silent(udp)
    fwd.close()


def test_tcp_uses_octet_counting_and_survives_an_outage_without_loss_or_repeats(idb: Engine,
                                                                                 r: redis.Redis) -> None:
    first = listener()
    port = first.getsockname()[1]
    add(idb, 3, reason="line one\nline two")  # a newline inside a message: the framing is by length
    fwd = AuditForwarder(idb, r, f"tcp://127.0.0.1:{port}", hostname="h")
    assert fwd.forward_once() == 3
    conn, _ = first.accept()
    conn.settimeout(3)
    assert frames(conn, 3) == [format_rfc5424(row, hostname="h") for row in rows(idb)]

    conn.close()  # the collector goes away
    first.close()
    add(idb, 2, event="during_outage")
    for _ in range(2):
        with pytest.raises(OSError):
            fwd.forward_once()
        assert fwd.cursor() == 3, "the cursor stays at the last record delivered"

    back = listener(port)  # the collector is back on the same port
    assert fwd.forward_once() == 2 and fwd.cursor() == 5
    conn2, _ = back.accept()
    conn2.settimeout(3)
    got = frames(conn2, 2)
    assert got == [format_rfc5424(row, hostname="h") for row in rows(idb)[3:]]
    assert all(b" during_outage [" in m for m in got)
    assert fwd.forward_once() == 0 and silent(conn2), "exactly once"
    fwd.close()
    conn2.close()
    back.close()


def test_one_forwarder_at_a_time(idb: Engine, r: redis.Redis, udp: socket.socket) -> None:
    target = f"udp://127.0.0.1:{udp.getsockname()[1]}"
    one, two = AuditForwarder(idb, r, target), AuditForwarder(idb, r, target)
    add(idb, 2)
    assert one.forward_once() == 2 and len(datagrams(udp, 2)) == 2
    assert r.get(LOCK_KEY) == one.owner.encode() and 0 < r.pttl(LOCK_KEY) <= 10_000
    add(idb, 1)
    assert not two.acquire() and two.forward_once() == 0 and silent(udp), "the other process skips"
    assert one.acquire(), "the holder renews"
    two.release()
    assert r.get(LOCK_KEY) == one.owner.encode(), "releasing someone else's lock does nothing"
    one.close()
    assert r.get(LOCK_KEY) is None
    assert two.forward_once() == 1 and b'id="3"' in datagrams(udp, 1)[0], "takes over from the shared cursor"
    assert not one.acquire()
    two.close()


def test_run_logs_an_outage_once_and_the_recovery_once(idb: Engine, r: redis.Redis,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    probe = listener()
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there yet
    add(idb, 2)
    fwd = AuditForwarder(idb, r, f"tcp://127.0.0.1:{port}", hostname="h")
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="auth.syslog")
    worker = threading.Thread(target=fwd.run, args=(stop, 0.02), daemon=True)
    worker.start()
    try:
        time.sleep(0.3)  # about 15 failed rounds
        assert [rec.levelname for rec in caplog.records] == ["WARNING"]
        assert "failed" in caplog.records[0].getMessage() and fwd.cursor() == 0
        collector = listener(port)
        conn, _ = collector.accept()
        conn.settimeout(3)
        assert len(frames(conn, 2)) == 2
        deadline = time.monotonic() + 3
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        assert [rec.levelname for rec in caplog.records] == ["WARNING", "INFO"]
        assert "recovered" in caplog.records[1].getMessage() and "2 record(s)" in caplog.records[1].getMessage()
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive() and r.get(LOCK_KEY) is None, "the lock is given up on stop"
    conn.close()
    collector.close()
