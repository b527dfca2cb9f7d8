"""Phone and ID-card numbers in the fact tables: sealed at rest under gm, indexed under both profiles,
written the same way by the sink and the backfill, and tables without such fields left untouched."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text

from auth.crypto import CryptoBackend, CryptoError, GmBackend, Keys, StandardBackend
from datasources.base import UTC, Event, make_key
from datasources.canteen.schemas import CanteenCameraStatus
from datasources.kindergarten import KindergartenCheckIn, KindergartenCheckOut
from datasources.passage.schemas import PassageVisitor
from datasources.property import PropertyOrderCreated, PropertyOrderDispatched
from domain.calendar import default_calendar
from domain.compound import build_compound
from warehouse.backfill import backfill
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.protect import FactSealer, find_facts_by_value
from warehouse.schema import create_schema
from warehouse.sink import Sink

STRUCTS = (PassageVisitor, PropertyOrderCreated, PropertyOrderDispatched, KindergartenCheckIn, KindergartenCheckOut,
           CanteenCameraStatus)
T0 = dt.datetime(2025, 3, 4, 1, 30, tzinfo=UTC)
PHONE, OTHER_PHONE, ID_CARD = "13912345678", "13812345678", "37010219800101123X"
PLAIN = (PHONE, OTHER_PHONE, ID_CARD, "13700001111", "13600002222")
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def gm(keys: Keys) -> GmBackend:
    return GmBackend(keys)


@pytest.fixture
def protected_tables() -> FactTables:
    return FactTables(STRUCTS)


@pytest.fixture
def wh(engine: Engine, protected_tables: FactTables) -> Engine:
    create_schema(engine, protected_tables)
    return engine


def sample_events() -> list[Event]:
    """One event of each schema above, as the sources send them; seq follows list order."""
    def base(i: int) -> dict[str, Any]:
        ts = T0 + dt.timedelta(minutes=i)
        return {"source": "sim.test", "ts": ts, "key": make_key(ts, i), "seq": i + 1}

    return [
        PassageVisitor(**base(0), visitor_id="FK1", state="approved", name="张伟", phone=PHONE, id_card=ID_CARD,
                       host_person_id="P00345", host_unit_id="U11", purpose="公务洽谈",
                       visit_start=T0 + dt.timedelta(hours=1), visit_end=T0 + dt.timedelta(hours=3),
                       approver_id="P00345"),
        PassageVisitor(**base(1), visitor_id="FK2", state="applied", name="李娜", phone=OTHER_PHONE,
                       id_card="370102198001011234", host_person_id="P00345", host_unit_id="U11", purpose="送件",
                       visit_start=T0 + dt.timedelta(hours=1), visit_end=T0 + dt.timedelta(hours=2)),
        PropertyOrderCreated(**base(2), order_id="WO1", category="repair", building_id="B03", floor=6,
                             requester_name="王伟", requester_phone=PHONE, channel="phone", description="空调不制冷",
                             sla_accept_min=15, sla_done_min=120),
        PropertyOrderDispatched(**base(3), order_id="WO1", category="repair", assignee_id="WY007",
                                assignee_name="张强", assignee_phone="13700001111"),
        PropertyOrderDispatched(**base(4), order_id="WO2", category="repair", assignee_id="WY008",
                                assignee_name="刘洋"),  # no phone sent: ""
        KindergartenCheckIn(**base(5), child_id="K0001", class_id="小1班", guardian_name="李娜",
                            guardian_phone=OTHER_PHONE, relation="mother", temperature_c=36.6),
        KindergartenCheckOut(**base(6), child_id="K0001", class_id="小1班", pickup_id="P00321", pickup_name="李娜",
                             pickup_phone="13600002222", relation="mother", registered=True),
        CanteenCameraStatus(**base(7), camera_id="CAM1", canteen_id="C1", online=True, bitrate_kbps=2048.0),
    ]


def write(sink: Sink, events: list[Event], last_id: str = "1-0") -> Any:
    return sink.write_batch(events, stream="ev:test", group="g", consumer="c", last_id=last_id,
                            deltas=lambda new: {})


def raw_rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    """The rows exactly as stored, read with plain SQL (no column types decoding anything)."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY "key"')).mappings()]


def assert_indexes(engine: Engine, tables: FactTables, backend: CryptoBackend) -> None:
    """Every non-empty protected value has index = backend.index(value, its column); blanks have none."""
    for ft in tables:
        for value_at, index_at, context in ft.protected:
            field, idx = ft.columns[value_at], ft.columns[index_at]
            for row in raw_rows(engine, ft.table.name):
                plain = FactSealer(backend).open(row[field], context)
                assert row[idx] == (backend.index(plain, context) if plain else None), (context, plain)


def test_protected_fields_get_index_columns_and_positions(protected_tables: FactTables) -> None:
    visitor = protected_tables["passage.visitor"]
    assert [ctx for _, _, ctx in visitor.protected] == ["f_passage_visitor.phone", "f_passage_visitor.id_card"]
    assert visitor.columns[-2:] == ("phone_idx", "id_card_idx")
    assert [(visitor.columns[v], visitor.columns[i]) for v, i, _ in visitor.protected] == [
        ("phone", "phone_idx"), ("id_card", "id_card_idx")]
    indexed = {tuple(c.name for c in i.columns) for i in visitor.table.indexes}
    assert {("phone_idx",), ("id_card_idx",)} <= indexed
    assert visitor.table.c.phone_idx.nullable and visitor.table.c.phone_idx.type.length == 64
    assert len(visitor.pg_types) == len(visitor.columns) == len(visitor.table.columns)
    # requester_name and requester_id are not personal numbers
    for schema, field in (("property.order_created", "requester_phone"),
                          ("property.order_dispatched", "assignee_phone"),
                          ("kindergarten.check_in", "guardian_phone"), ("kindergarten.check_out", "pickup_phone")):
        ft = protected_tables[schema]
        assert [ft.columns[v] for v, _, _ in ft.protected] == [field]


def test_a_table_without_protected_fields_is_as_before(protected_tables: FactTables, gm: GmBackend) -> None:
    camera = protected_tables["canteen.camera"]
    assert camera.protected == ()
    assert not [c for c in camera.table.columns if c.name.endswith("_idx")]
    assert camera.columns == ("key", "source", "seq", "ts", "v", "camera_id", "canteen_id", "online", "bitrate_kbps")
    events = [e for e in sample_events() if isinstance(e, CanteenCameraStatus)] * 3
    for dialect in ("sqlite", "postgresql"):
        plain = camera.rows(events, dialect)
        sealed = camera.rows(events, dialect, FactSealer(gm))
        assert sealed == plain and [list(map(type, r)) for r in sealed] == [list(map(type, r)) for r in plain]


def test_rows_without_a_sealer_stay_plaintext_with_no_index(protected_tables: FactTables) -> None:
    visitor = protected_tables["passage.visitor"]
    (row,) = visitor.rows(sample_events()[:1], "sqlite")
    assert row[visitor.columns.index("phone")] == PHONE and row[-2:] == [None, None]


def test_a_protected_field_must_be_a_string() -> None:
    class Odd(Event, tag="odd.numbers"):
        mobile_phone: int

    with pytest.raises(TypeError, match="mobile_phone"):
        FactTables([Odd])


def test_gm_seals_through_the_sink_and_finds_by_index(wh: Engine, protected_tables: FactTables,
                                                      gm: GmBackend) -> None:
    sealer = FactSealer(gm)
    events = sample_events()
    first = write(Sink(wh, protected_tables, sealer=sealer), events)
    assert len(first.new_events) == len(events)
    for ft in protected_tables:
        for row in raw_rows(wh, ft.table.name):
            stored = repr(row)
            assert not [p for p in PLAIN if p in stored], ft.table.name  # no number in clear, anywhere
            for value_at, _, _ in ft.protected:
                value = row[ft.columns[value_at]]
                assert value == "" or value.startswith("v1.sm4gcm."), value
    assert_indexes(wh, protected_tables, gm)
    (blank,) = [r for r in raw_rows(wh, "f_property_order_dispatched") if r["order_id"] == "WO2"]
    assert (blank["assignee_phone"], blank["assignee_phone_idx"]) == ("", None)

    visitor = protected_tables["passage.visitor"]
    with wh.connect() as conn:
        found = find_facts_by_value(conn, visitor, "phone", "139-1234 5678", sealer)  # formatted as typed
        by_card = find_facts_by_value(conn, visitor, "id_card", ID_CARD.lower(), sealer)
        orders = find_facts_by_value(conn, protected_tables["property.order_created"], "requester_phone", PHONE,
                                     sealer)
        nobody = find_facts_by_value(conn, visitor, "phone", "13000000000", sealer)
        with pytest.raises(ValueError, match="not a protected field"):
            find_facts_by_value(conn, visitor, "name", "张伟", sealer)
    assert [(r["visitor_id"], r["phone"], r["id_card"], r["name"]) for r in found] == [("FK1", PHONE, ID_CARD, "张伟")]
    assert [r["visitor_id"] for r in by_card] == ["FK1"] and "phone_idx" not in found[0]
    assert found[0]["ts"] == T0 and found[0]["visit_start"] == T0 + dt.timedelta(hours=1)
    assert [(r["order_id"], r["requester_phone"]) for r in orders] == [("WO1", PHONE)]
    assert nobody == []

    # redelivery: the key is never sealed, so the same events are recognised though tokens would differ
    again = write(Sink(wh, protected_tables, sealer=sealer), events, last_id="2-0")
    assert (again.new_events, again.duplicates) == ([], len(events))
    with wh.connect() as conn:
        counts = {ft.schema: conn.execute(select(func.count()).select_from(ft.table)).scalar_one()
                  for ft in protected_tables}
    assert counts == {"passage.visitor": 2, "property.order_created": 1, "property.order_dispatched": 2,
                      "kindergarten.check_in": 1, "kindergarten.check_out": 1, "canteen.camera": 1}


def test_a_tampered_or_moved_token_is_refused(wh: Engine, protected_tables: FactTables, gm: GmBackend) -> None:
    sealer = FactSealer(gm)
    write(Sink(wh, protected_tables, sealer=sealer), sample_events())
    visitor = protected_tables["passage.visitor"]
    (row,) = [r for r in raw_rows(wh, "f_passage_visitor") if r["visitor_id"] == "FK1"]
    token = row["phone"]
    head, body = token.rsplit(".", 1)
    flipped = f"{head}.{'B' if body[0] == 'A' else 'A'}{body[1:]}"  # one ciphertext bit pattern changed
    with wh.begin() as conn:
        conn.execute(text('UPDATE f_passage_visitor SET phone = :t WHERE "key" = :k'), {"t": flipped, "k": row["key"]})
    with wh.connect() as conn, pytest.raises(CryptoError):
        find_facts_by_value(conn, visitor, "phone", PHONE, sealer)
    # a token copied into another column fails too: the column is the AEAD context
    with wh.begin() as conn:
        conn.execute(text('UPDATE f_passage_visitor SET phone = :t, id_card = :t WHERE "key" = :k'),
                     {"t": token, "k": row["key"]})
    with wh.connect() as conn, pytest.raises(CryptoError):
        find_facts_by_value(conn, visitor, "phone", PHONE, sealer)


def test_standard_keeps_plaintext_and_still_indexes(wh: Engine, protected_tables: FactTables, keys: Keys) -> None:
    standard = StandardBackend(keys)
    sealer = FactSealer(standard)
    write(Sink(wh, protected_tables, sealer=sealer), sample_events())
    (row,) = [r for r in raw_rows(wh, "f_passage_visitor") if r["visitor_id"] == "FK1"]
    assert (row["phone"], row["id_card"]) == (PHONE, ID_CARD)
    assert row["phone_idx"] == standard.index(PHONE, "f_passage_visitor.phone")
    assert row["phone_idx"] != standard.index(PHONE, "f_property_order_created.requester_phone")  # per column
    assert_indexes(wh, protected_tables, standard)
    with wh.connect() as conn:
        found = find_facts_by_value(conn, protected_tables["kindergarten.check_in"], "guardian_phone", OTHER_PHONE,
                                    sealer)
    assert [(r["child_id"], r["guardian_phone"]) for r in found] == [("K0001", OTHER_PHONE)]


@pytest.mark.parametrize("workers", [1, 2])  # 2: the sealer travels to spawned worker processes
def test_backfill_seals_like_the_sink(db_url: str, gm: GmBackend, workers: int) -> None:
    from datasources.registry import SYSTEMS

    specs = [SYSTEMS[name] for name in ("passage", "property", "kindergarten")]
    tables = FactTables(cls for spec in specs for cls in spec.events)
    engine = make_engine(db_url, role="backfill")
    create_schema(engine, tables)
    end = dt.datetime(2025, 3, 5, tzinfo=SH)  # one whole workday before it
    stats = backfill(engine, specs, build_compound(7, staff=300), default_calendar(), days=1, end=end, seed=7, tz=SH,
                     progress=False, tables=tables, sealer=FactSealer(gm), workers=workers)
    protected = [ft for ft in tables if ft.protected]
    assert {ft.schema for ft in protected} == {"passage.visitor", "property.order_created",
                                               "property.order_dispatched", "kindergarten.check_in",
                                               "kindergarten.check_out"}
    for ft in protected:
        assert stats.by_schema[ft.schema] > 0, ft.schema
        for row in raw_rows(engine, ft.table.name):
            for value_at, index_at, _ in ft.protected:
                value = row[ft.columns[value_at]]
                assert value == "" or value.startswith("v1.sm4gcm."), (ft.schema, value)
                assert (row[ft.columns[index_at]] is None) == (value == "")
    assert_indexes(engine, tables, gm)
    engine.dispose()


def test_a_populated_database_upgrades_in_place(db_url: str, gm: GmBackend) -> None:
    from sqlalchemy import inspect

    from warehouse.migrate import upgrade
    from warehouse.schema import registry_fact_tables

    engine = make_engine(db_url, role="consumer")
    upgrade(engine, "0004")
    visitor = registry_fact_tables()["passage.visitor"]
    old, new = sample_events()[:2]
    before = [c for c in visitor.columns if not c.endswith("_idx")]
    with engine.begin() as conn:  # a row written before the index columns existed
        conn.execute(visitor.table.insert().values({c: getattr(old, c) for c in before}))
    upgrade(engine)
    indexes = {i["name"] for i in inspect(engine).get_indexes("f_passage_visitor")}
    assert {"ix_f_passage_visitor_phone_idx", "ix_f_passage_visitor_id_card_idx"} <= indexes
    (kept,) = raw_rows(engine, "f_passage_visitor")
    assert (kept["key"], kept["phone"], kept["phone_idx"]) == (old.key, PHONE, None)  # as it was, not indexed
    sealer = FactSealer(gm)
    write(Sink(engine, registry_fact_tables(), sealer=sealer), [old, new])  # the old one is a duplicate
    with engine.connect() as conn:
        assert [r["visitor_id"] for r in find_facts_by_value(conn, visitor, "phone", OTHER_PHONE, sealer)] == ["FK2"]
        assert find_facts_by_value(conn, visitor, "phone", PHONE, sealer) == []  # written before: not indexed
    engine.dispose()
