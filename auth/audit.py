"""The tamper-evident audit log: append in the caller's transaction, verify, purge with a floor.

Each record carries the hash of the one before it (SHA-256, or SM3 under the `gm` profile), over a
canonical JSON of all its fields. Ids are assigned under a lock on the one head row, so they are
contiguous: a changed record fails its own hash, a removed one leaves a gap or a broken link, and
a removed newest record disagrees with the head. Retention cuts the old end and moves the anchor,
never below the 180 days the Cybersecurity Law (art. 21) asks for, whatever the configuration says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from warehouse.db import is_sqlite
from warehouse.identity import auth_audit, auth_audit_head

RETENTION_FLOOR_DAYS = 180
GENESIS = "0" * 64
ALGORITHMS = {"standard": "sha256", "gm": "sm3"}


@dataclass(frozen=True)
class AuditEvent:
    """What happened, by whom, from where, to what; `detail` holds before/after of a change."""

    actor: str
    event: str
    result: str = "ok"  # ok | fail | denied
    object: str = ""
    reason: str = ""
    address: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    record_id: int
    what: str

    def __str__(self) -> str:
        return f"record {self.record_id}: {self.what}"


def _digest(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def _canonical(row: Mapping[str, Any]) -> bytes:
    ts = row["ts"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    body = [row["id"], ts, row["actor"], row["address"], row["event"], row["object"], row["result"],
            row["reason"], row["detail"], row["prev_hash"]]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _lock_head(conn: Connection, profile: str) -> Mapping[str, Any]:
    """The head row, locked until the caller's transaction ends; created on the first append."""
    q = select(auth_audit_head).where(auth_audit_head.c.id == 1)
    if not is_sqlite(conn):  # SQLite writers already hold the database lock (BEGIN IMMEDIATE)
        q = q.with_for_update()
    head = conn.execute(q).mappings().first()
    if head is None:  # two first appends may race here: the loser's insert does nothing
        ins = (sqlite_insert if is_sqlite(conn) else pg_insert)(auth_audit_head)
        conn.execute(ins.values(id=1, last_id=0, last_hash=GENESIS, anchor_id=0, anchor_hash=GENESIS,
                                algorithm=ALGORITHMS[profile]).on_conflict_do_nothing())
        head = conn.execute(q).mappings().one()
    return head


def append(conn: Connection, ev: AuditEvent, *, now: dt.datetime, profile: str = "standard") -> int:
    """Append one record inside the caller's transaction (it commits or fails with the action)."""
    head = _lock_head(conn, profile)
    row = {"id": head["last_id"] + 1, "ts": now.astimezone(dt.UTC), "actor": ev.actor[:128],
           "address": ev.address[:64], "event": ev.event[:64], "object": ev.object[:255], "result": ev.result,
           "reason": ev.reason, "detail": json.dumps(dict(ev.detail), ensure_ascii=False, sort_keys=True,
                                                      default=str) if ev.detail else "",
           "prev_hash": head["last_hash"]}
    row["hash"] = _digest(head["algorithm"], _canonical(row))
    conn.execute(insert(auth_audit).values(**row))
    conn.execute(update(auth_audit_head).where(auth_audit_head.c.id == 1)
                 .values(last_id=row["id"], last_hash=row["hash"]))
    return int(row["id"])


def record(engine: Engine, ev: AuditEvent, *, now: dt.datetime, profile: str = "standard") -> int:
    """Append in a transaction of its own, for events with no other write (a denied request)."""
    with writer(engine) as conn:
        return append(conn, ev, now=now, profile=profile)


@contextmanager
def writer(engine: Engine) -> Iterator[Connection]:
    """A write transaction that takes SQLite's lock at BEGIN, so the head read and the append are atomic."""
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        yield conn


def verify(conn: Connection, *, chunk: int = 5000) -> list[Problem]:
    """Every problem in the chain, naming the record: changed, removed, reordered or truncated."""
    head = conn.execute(select(auth_audit_head).where(auth_audit_head.c.id == 1)).mappings().first()
    if head is None:
        n = conn.execute(select(func.count()).select_from(auth_audit)).scalar_one()
        return [Problem(0, f"the head row is missing but {n} records exist")] if n else []
    problems: list[Problem] = []
    expect_id, prev = head["anchor_id"] + 1, head["anchor_hash"]
    for row in _rows(conn, head["anchor_id"], chunk):
        if row["id"] != expect_id:
            gap = f"{expect_id}" if row["id"] == expect_id + 1 else f"{expect_id}-{row['id'] - 1}"
            problems.append(Problem(expect_id, f"missing (records {gap} were removed)"))
        if row["prev_hash"] != prev:
            problems.append(Problem(row["id"], "link to the previous record is broken"))
        if _digest(head["algorithm"], _canonical(row)) != row["hash"]:
            problems.append(Problem(row["id"], "content was changed (hash does not match)"))
        expect_id, prev = row["id"] + 1, row["hash"]
    if expect_id - 1 != head["last_id"]:
        problems.append(Problem(head["last_id"], f"missing (the log ends at {expect_id - 1}, the head at "
                                                 f"{head['last_id']}: newest records were removed)"))
    elif prev != head["last_hash"]:
        problems.append(Problem(head["last_id"], "newest record differs from the head's hash"))
    return problems


def _rows(conn: Connection, after: int, chunk: int) -> Iterator[Mapping[str, Any]]:
    while True:
        rows = conn.execute(select(auth_audit).where(auth_audit.c.id > after).order_by(auth_audit.c.id)
                            .limit(chunk)).mappings().all()
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1]["id"]


def purge(conn: Connection, *, now: dt.datetime, keep_days: int) -> int:
    """Delete records older than max(keep_days, 180 days) and move the anchor past them."""
    cutoff = now - dt.timedelta(days=max(keep_days, RETENTION_FLOOR_DAYS))
    head = _lock_head(conn, "standard")
    last = conn.execute(select(auth_audit.c.id, auth_audit.c.hash).where(auth_audit.c.ts < cutoff)
                        .order_by(auth_audit.c.id.desc()).limit(1)).first()
    if last is None:
        return 0
    n = conn.execute(auth_audit.delete().where(auth_audit.c.id <= last.id)).rowcount
    conn.execute(update(auth_audit_head).where(auth_audit_head.c.id == head["id"])
                 .values(anchor_id=last.id, anchor_hash=last.hash))
    return int(n)
