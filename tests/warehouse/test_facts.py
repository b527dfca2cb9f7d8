"""Fact tables derived from event Structs: names, column types, keys, indexes, round trip."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import BigInteger, Boolean, Date, Double, Engine, Numeric, String, Text, select

from datasources.base import Event
from tests.warehouse.samples import STRUCTS, T0, Ping, Reading, Sale, make_events
from warehouse.facts import FactTables, table_name
from warehouse.sink import Sink
from warehouse.sqltypes import UTC, UtcDateTime


def test_table_names_follow_schema_names(tables: FactTables) -> None:
    assert table_name("canteen.settlement") == "f_canteen_settlement"
    assert [ft.table.name for ft in tables] == ["f_shop_sale", "f_meter_reading", "f_door_ping"]


def test_every_field_type_maps_to_its_column_type(tables: FactTables) -> None:
    t = tables["shop.sale"].table
    expected = {
        "key": String, "source": String, "seq": BigInteger, "ts": UtcDateTime, "v": BigInteger,
        "unit_id": String, "amount": Numeric, "weight": Double, "items": BigInteger, "paid": Boolean,
        "method": String, "note": String, "served_at": UtcDateTime, "served_on": Date, "extra": Text, "tags": Text,
    }
    assert set(t.c.keys()) == set(expected)
    for name, kind in expected.items():
        assert isinstance(t.c[name].type, kind), name
    assert (t.c.amount.type.precision, t.c.amount.type.scale) == (14, 2)
    assert t.c.key.primary_key and [c.name for c in t.primary_key.columns] == ["key"]
    nullable = {c.name for c in t.columns if c.nullable}
    assert nullable == {"note", "served_at", "served_on"}


def test_one_secondary_index_on_time(tables: FactTables) -> None:
    for ft in tables:
        idx = {tuple(c.name for c in i.columns) for i in ft.table.indexes}
        assert idx == {("ts",)}, ft.schema


def test_measure_and_dimension_are_found_by_name(tables: FactTables) -> None:
    assert (tables["shop.sale"].measure, tables["shop.sale"].dim) == ("amount", "unit_id")
    assert (tables["meter.reading"].measure, tables["meter.reading"].dim) == ("delta", "building_id")
    assert (tables["door.ping"].measure, tables["door.ping"].dim) == (None, None)


def test_unsupported_field_types_are_refused() -> None:
    class Odd(Event, tag="odd.union"):
        either: int | str

    with pytest.raises(TypeError, match="either"):
        FactTables([Odd])


def test_same_schema_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        FactTables([Ping, Ping])


def test_unknown_schema_is_a_clear_error(tables: FactTables) -> None:
    with pytest.raises(KeyError, match="no fact table"):
        tables["nope.nothing"]


def test_values_round_trip_through_the_fast_path(warehouse: Engine, tables: FactTables) -> None:
    full = Sale(source="s", ts=T0, key="0" * 31 + "1", seq=1, unit_id="U01", amount=Decimal("12.34"),
                weight=0.25, items=3, paid=True, method="face", note="少辣", served_at=T0 + dt.timedelta(minutes=3),
                served_on=T0.date(), extra={"dish": 7}, tags=["午餐", "a"])
    empty = Sale(source="s", ts=T0.astimezone(dt.timezone(dt.timedelta(hours=8))), key="0" * 31 + "2", seq=2,
                 unit_id="U02", amount=Decimal("0.50"), weight=1.5, items=1, paid=False, method="card")
    Sink(warehouse, tables).write_batch([full, empty], stream="s", group="g", consumer="c", last_id="1-0",
                                        deltas=lambda new: {})
    t = tables["shop.sale"].table
    with warehouse.connect() as conn:
        rows = {r.key: r for r in conn.execute(select(t))}
    a, b = rows[full.key], rows[empty.key]
    assert a.ts == T0 and a.ts.tzinfo == UTC and b.ts == T0
    assert Decimal(str(a.amount)) == Decimal("12.34") and Decimal(str(b.amount)) == Decimal("0.50")
    assert (a.weight, a.items, a.paid, a.method, a.note) == (0.25, 3, True, "face", "少辣")
    assert a.served_at == T0 + dt.timedelta(minutes=3) and a.served_on == T0.date()
    assert a.extra == '{"dish":7}' and a.tags == '["午餐","a"]'
    assert (b.paid, b.note, b.served_at, b.served_on, b.extra, b.tags) == (False, None, None, None, "{}", "[]")
    assert (a.v, a.source, a.seq) == (1, "s", 1)


def test_times_are_stored_as_utc_whatever_zone_the_event_carries(warehouse: Engine, tables: FactTables) -> None:
    local = dt.timezone(dt.timedelta(hours=8))
    events = [Reading(source="s", ts=T0.astimezone(local), key="0" * 31 + "9", seq=9, building_id="B01",
                      meter_id="M1", value=1.0)]
    Sink(warehouse, tables).write_batch(events, stream="s", group="g", consumer="c", last_id="1-0",
                                        deltas=lambda new: {})
    t = tables["meter.reading"].table
    with warehouse.connect() as conn:
        assert conn.execute(select(t.c.ts).where(t.c.ts >= T0, t.c.ts < T0 + dt.timedelta(seconds=1))).scalar() == T0


def test_sample_generator_covers_all_schemas() -> None:
    assert {type(e) for e in make_events(8)} == set(STRUCTS)
