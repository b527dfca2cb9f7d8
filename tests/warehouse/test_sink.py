"""The exactly-once sink: duplicates, atomic rollback, outbox, concurrency, rollups, gaps."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine, func, select

from datasources.base import Event
from tests.warehouse.checks import assert_rollups_match_facts, duplicate_keys, fact_counts
from tests.warehouse.samples import T0, make_events
from warehouse.facts import FactTables
from warehouse.ops import consumer_position, outbox, rollup_hourly, source_seq
from warehouse.rollups import sequence_gaps
from warehouse.sink import Sink


def count_new(new: list[Event]) -> dict[str, Any]:
    return {"n": len(new), "keys": [e.key for e in new]}


def write(sink: Sink, events: list[Event], last_id: str = "1-0", consumer: str = "c1", **kw: Any) -> Any:
    return sink.write_batch(events, stream="ev:test", group="g", consumer=consumer, last_id=last_id,
                            deltas=kw.get("deltas", count_new))


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (outbox, consumer_position, rollup_hourly, source_seq)}


def test_a_batch_delivered_twice_is_written_once(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    events = make_events(300)
    first = write(sink, events)
    assert (len(first.new_events), first.duplicates) == (300, 0)
    assert first.new_events == events and first.deltas["n"] == 300
    second = write(sink, events, last_id="2-0")
    assert (second.new_events, second.duplicates, second.deltas["n"]) == ([], 300, 0)
    assert sum(fact_counts(warehouse, tables).values()) == 300
    assert_rollups_match_facts(warehouse, tables)


def test_duplicates_inside_one_batch_and_across_batches(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    events = make_events(100)
    write(sink, events[:40])
    batch = events[30:70] + events[50:60] + events[65:70]  # 10 already stored, 15 repeated in the batch
    result = write(sink, batch)
    assert [e.key for e in result.new_events] == [e.key for e in events[40:70]]
    assert result.duplicates == len(batch) - 30
    assert result.deltas["keys"] == [e.key for e in events[40:70]]
    assert sum(fact_counts(warehouse, tables).values()) == 70
    assert duplicate_keys(warehouse, tables) == 0
    assert_rollups_match_facts(warehouse, tables)


def test_repeats_across_and_inside_multi_row_inserts_keep_the_first_row(warehouse: Engine,
                                                                       tables: FactTables) -> None:
    """Hundreds of rows per table: several of SQLite's multi-row INSERTs (999 values each) and a remainder
    inserted one by one, with keys stored before, repeated inside a statement, across statements and
    between a statement and the remainder; a repeat that differs keeps the first row's values."""
    sink = Sink(warehouse, tables)
    events = make_events(1200)
    write(sink, events[:100])
    changed = [msgspec.structs.replace(e, seq=10_000_000 + e.seq) for e in events[500:520] + events[990:1000]]
    batch = events[50:1000] + changed + events[600:602]
    result = write(sink, batch)
    assert [e.key for e in result.new_events] == [e.key for e in events[100:1000]]
    assert result.duplicates == len(batch) - 900
    assert sum(fact_counts(warehouse, tables).values()) == 1000
    assert duplicate_keys(warehouse, tables) == 0
    with warehouse.connect() as conn:
        table = tables[changed[0].schema_name()].table
        stored = conn.execute(select(table.c.seq).where(table.c.key.in_([e.key for e in changed]))).scalars().all()
    assert stored and max(stored) < 10_000_000
    assert_rollups_match_facts(warehouse, tables)


def test_a_table_of_repeats_leaves_the_new_rows_of_the_other_tables_written(warehouse: Engine,
                                                                            tables: FactTables) -> None:
    """One savepoint covers the direct writes of all of a batch's tables: a repeat in one of them undoes
    them all, and every table's rows must then come back through the path that tells new from stored."""
    sink = Sink(warehouse, tables)
    events = make_events(120)
    by_type: dict[type, list[Event]] = {}
    for e in events:
        by_type.setdefault(type(e), []).append(e)
    # the table written last: the direct writes of the others have happened when its repeat is found
    *others, repeated = sorted(by_type.values(), key=lambda evs: tables[evs[0].schema_name()].table.name)
    assert others, "samples must span more than one fact table"
    write(sink, repeated)
    result = write(sink, events, last_id="2-0")
    expected = [e for e in events if e not in repeated]
    assert [e.key for e in result.new_events] == [e.key for e in expected]
    assert result.duplicates == len(repeated)
    assert sum(fact_counts(warehouse, tables).values()) == 120
    assert duplicate_keys(warehouse, tables) == 0
    assert_rollups_match_facts(warehouse, tables)


def test_failing_deltas_roll_back_facts_outbox_position_and_rollups(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    write(sink, make_events(50))
    before_facts, before_ops = fact_counts(warehouse, tables), table_counts(warehouse)

    def broken(new: list[Event]) -> dict[str, Any]:
        raise RuntimeError("live-state extractor failed")

    later = make_events(50, seq_start=51, start=T0 + dt.timedelta(hours=5), seed=2)
    with pytest.raises(RuntimeError, match="extractor failed"):
        write(sink, later, last_id="9-0", deltas=broken)
    assert fact_counts(warehouse, tables) == before_facts
    assert table_counts(warehouse) == before_ops
    with warehouse.connect() as conn:
        assert conn.execute(select(consumer_position.c.last_id)).scalar_one() == "1-0"
    result = write(sink, later, last_id="9-0")  # the retry writes them, once
    assert len(result.new_events) == 50
    assert_rollups_match_facts(warehouse, tables)


def test_a_database_error_after_the_facts_rolls_everything_back(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    before_facts, before_ops = fact_counts(warehouse, tables), table_counts(warehouse)
    with pytest.raises(Exception, match="(?i)not.null|null value"):
        write(sink, make_events(20), last_id=None)  # type: ignore[arg-type]  # outbox.last_id is NOT NULL
    assert fact_counts(warehouse, tables) == before_facts
    assert table_counts(warehouse) == before_ops
    assert len(write(sink, make_events(20)).new_events) == 20


def test_unknown_schema_fails_before_anything_is_written(warehouse: Engine) -> None:
    sink = Sink(warehouse, FactTables([]))
    with pytest.raises(KeyError):
        write(sink, make_events(3))
    assert table_counts(warehouse)["outbox"] == 0


def test_position_is_kept_per_consumer(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    write(sink, make_events(5), last_id="5-0", consumer="a")
    write(sink, make_events(5, seq_start=6, seed=3), last_id="7-0", consumer="b")
    write(sink, make_events(5, seq_start=11, seed=4), last_id="9-1", consumer="a")
    with warehouse.connect() as conn:
        got = dict(conn.execute(select(consumer_position.c.consumer, consumer_position.c.last_id)).all())
    assert got == {"a": "9-1", "b": "7-0"}


def test_batches_in_the_same_millisecond_replay_in_the_order_written(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables, clock=lambda: T0)  # every batch at the same instant
    results = [write(sink, make_events(2, seq_start=1 + 2 * i, seed=i), last_id=f"{i}-0") for i in range(5)]
    assert [p.batch_id for p in sink.pending_outbox()] == [r.batch_id for r in results]


def test_outbox_rows_stay_pending_until_marked_applied(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    results = [write(sink, make_events(10, seq_start=1 + 10 * i, seed=i), last_id=f"{i}-0") for i in range(3)]
    dup = write(sink, make_events(10, seed=0), last_id="3-0")
    pending = sink.pending_outbox()
    assert [p.batch_id for p in pending] == [r.batch_id for r in results] + [dup.batch_id]
    assert pending[0].deltas == results[0].deltas and pending[0].n_new == 10
    head = pending[0]
    assert (head.stream, head.group, head.consumer, head.last_id) == ("ev:test", "g", "c1", "0-0")
    assert pending[-1].n_new == 0 and pending[-1].deltas["n"] == 0
    assert [p.batch_id for p in sink.pending_outbox(limit=2)] == [r.batch_id for r in results[:2]]
    sink.mark_applied([results[0].batch_id, results[2].batch_id])
    sink.mark_applied([results[0].batch_id])  # applying twice is harmless
    assert [p.batch_id for p in sink.pending_outbox()] == [results[1].batch_id, dup.batch_id]
    sink.mark_applied([])
    sink.mark_applied([results[1].batch_id, dup.batch_id])
    assert sink.pending_outbox() == []


def test_concurrent_consumers_with_overlapping_batches_store_each_key_once(
        db_url: str, warehouse: Engine, tables: FactTables) -> None:
    from warehouse.db import make_engine

    events = make_events(2000, step_s=1.0)
    batches = [events[i:i + 250] for i in range(0, 2000, 125)]  # every event in two batches
    results: dict[str, list[Any]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def consume(name: str, order: list[list[Event]]) -> None:
        engine = make_engine(db_url, role="consumer")
        try:
            sink = Sink(engine, tables)
            for i, batch in enumerate(order):
                results[name].append(write(sink, batch, last_id=f"{i}-0", consumer=name))
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=consume, args=("a", batches)),
               threading.Thread(target=consume, args=("b", batches[::-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    new_keys = [e.key for r in results["a"] + results["b"] for e in r.new_events]
    assert sorted(new_keys) == sorted(e.key for e in events)  # each key new exactly once, in one batch
    written = sum(len(b) for b in batches)
    assert sum(r.duplicates for r in results["a"] + results["b"]) == 2 * written - 2000
    assert sum(fact_counts(warehouse, tables).values()) == 2000
    assert duplicate_keys(warehouse, tables) == 0
    assert sum(p.n_new for p in Sink(warehouse, tables).pending_outbox(limit=1000)) == 2000
    assert_rollups_match_facts(warehouse, tables)


def test_rollups_equal_a_group_by_over_the_facts(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    # 1,200 events, 10 minutes apart: many hours and several local days; written in uneven batches
    events = make_events(1200, step_s=600)
    for i, size in enumerate((1, 7, 300, 92, 400, 400)):
        start = sum((1, 7, 300, 92, 400, 400)[:i])
        write(sink, events[start:start + size], last_id=f"{i}-0")
    write(sink, events[100:500], last_id="dup-0")  # duplicates add nothing
    assert_rollups_match_facts(warehouse, tables)


def test_sequence_gaps_count_missing_events_per_source(warehouse: Engine, tables: FactTables) -> None:
    sink = Sink(warehouse, tables)
    a = make_events(100, source="sim.a", seq_start=1)
    b = make_events(50, source="sim.b", seq_start=1000, seed=5)
    write(sink, a[:40] + a[45:70])  # 5 missing so far, and 70..99 not yet received
    write(sink, b[::-1])  # order does not matter
    assert sequence_gaps(warehouse) == {"sim.a": 5, "sim.b": 0}
    write(sink, a[90:] + a[40:43])  # 43, 44 and 70..89 missing
    write(sink, a[:10])  # duplicates do not hide gaps
    assert sequence_gaps(warehouse) == {"sim.a": 2 + 20, "sim.b": 0}
    with warehouse.connect() as conn:
        assert sequence_gaps(conn)["sim.a"] == 22
