"""The idempotent sink: the warehouse half of "at-least-once transport, exactly-once effect".

One transaction per batch holds the new fact rows, the live-state delta of exactly those rows
(the outbox), the consumer's stream position and the rollup increments. So after any crash
the warehouse either has all of a batch or none of it, a redelivered event is recognised by
its key and reported as a duplicate, and the delta to apply to Redis is either still in the
outbox (re-apply, guarded by batch_id) or already applied and marked (never applied twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert

from datasources.base import Event, make_key
from warehouse.bulk import insert_new, prepare, unique_by_key
from warehouse.facts import FactTables
from warehouse.ops import consumer_position, outbox
from warehouse.protect import FactSealer
from warehouse.rollups import DEFAULT_TZ, Increments
from warehouse.sqltypes import UTC


@dataclass
class BatchResult:
    batch_id: str
    new_events: list[Event]
    deltas: dict[str, Any]
    duplicates: int


@dataclass(frozen=True)
class OutboxRow:
    batch_id: str
    stream: str
    group: str
    deltas: dict[str, Any]
    consumer: str
    last_id: str
    n_new: int
    created_at: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


@cache
def _position_upsert(dialect: str) -> Insert:
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(consumer_position)
    return stmt.on_conflict_do_update(
        index_elements=["stream", "group_name", "consumer"],
        set_={"last_id": stmt.excluded.last_id, "updated_at": stmt.excluded.updated_at})


class Sink:
    """Writes consumer batches exactly once; one instance per consumer, safe to share an engine."""

    def __init__(self, engine: Engine, tables: FactTables, *, tz: dt.tzinfo = DEFAULT_TZ,
                 clock: Callable[[], dt.datetime] = _utcnow, sealer: FactSealer | None = None):
        """`sealer` protects personal fields at rest; the app always passes one, None suits tests and benches."""
        self.engine = engine
        self.tables = tables
        self.tz = tz
        self.clock = clock
        self.sealer = sealer
        self._last_batch = 0

    def _next_batch_id(self, now: dt.datetime) -> str:
        """Time-ordered and strictly increasing within this sink: pending outbox rows are replayed in the order
        they were written even when two batches fall in the same millisecond (their random tails would not be)."""
        self._last_batch = max(int(make_key(now), 16), self._last_batch + 1)
        return f"{self._last_batch:032x}"

    def write_batch(self, events: Sequence[Event], *, stream: str, group: str, consumer: str,
                    last_id: str, deltas: Callable[[list[Event]], dict[str, Any]]) -> BatchResult:
        """Commit the batch's new facts, their delta, the position and rollups, or nothing.

        Any failure (database error, `deltas` raising) rolls everything back and propagates;
        the consumer then leaves the entries pending and they come back later.
        """
        candidates = unique_by_key(events)
        groups = self.tables.group(candidates)  # unknown schema -> KeyError before any write
        now = self.clock()
        batch_id = self._next_batch_id(now)
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
            prepare(conn, [ft for ft, _ in groups])
            with conn.begin():
                increments = Increments()
                fresh_groups = []
                for (ft, evs), fresh in zip(groups, insert_new(conn, groups, self.sealer)):
                    increments.add(ft, fresh)
                    fresh_groups.append((fresh, evs))
                new_events = candidates
                if any(fresh is not evs for fresh, evs in fresh_groups):
                    keys = {e.key for fresh, _ in fresh_groups for e in fresh}
                    new_events = [e for e in candidates if e.key in keys]
                delta = deltas(new_events)
                conn.execute(outbox.insert(), {
                    "batch_id": batch_id, "stream": stream, "group_name": group, "consumer": consumer,
                    "last_id": last_id, "deltas": msgspec.json.encode(delta).decode(),
                    "n_new": len(new_events), "created_at": now})
                conn.execute(_position_upsert(conn.dialect.name), {
                    "stream": stream, "group_name": group, "consumer": consumer, "last_id": last_id,
                    "updated_at": now})
                increments.apply(conn, self.tz)
        return BatchResult(batch_id, new_events, delta, len(events) - len(new_events))

    def pending_outbox(self, limit: int = 100) -> list[OutboxRow]:
        """Committed deltas not yet marked applied to live state, oldest first."""
        stmt = select(outbox).order_by(outbox.c.batch_id).limit(limit)
        # a read: no write lock (SQLite writers begin IMMEDIATE, which would serialise every step)
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            rows = conn.execute(stmt).all()
            conn.rollback()
        return [OutboxRow(r.batch_id, r.stream, r.group_name, msgspec.json.decode(r.deltas), r.consumer,
                          r.last_id, r.n_new, r.created_at) for r in rows]

    def mark_applied(self, batch_ids: Sequence[str]) -> None:
        """Forget outbox rows whose deltas live state has applied (idempotent)."""
        if not batch_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(delete(outbox).where(outbox.c.batch_id.in_(list(batch_ids))))
