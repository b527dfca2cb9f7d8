"""Fact tables derived from the event schemas: one table per schema, no hand-written models.

The event Struct is the contract between connectors, streams and warehouse (ARCHITECTURE), so
the theme libraries (canteen settlements, passages, meter readings, ...) follow it by
construction: adding a field to a schema and generating a migration is the whole change.
Each table is keyed by the event's time-ordered `key` (the idempotency key; ordered keys keep
the unique index append-mostly), with `ts` indexed for time ranges. Sequence gaps are counted
from the `source_seq` rollup the sink keeps per batch, not from the facts: a (source, seq) index
that no query read cost every insert 1.5-3 µs of a consumer's ~7 on SQLite (and the server its
upkeep on PostgreSQL), so revision 0006 dropped it; a gap is found by time (`ts`) instead.
Rows are converted once per event into what each driver's fast path accepts.

Fields carrying personal numbers (`phone`, `*_phone`, `id_card`, `*_id_card`) are protected:
a nullable `<field>_idx` column holds a keyed index for equality look-ups, and a sealer
(warehouse/protect.py) fills it, and under gm replaces the value by an SM4-GCM token, as rows
are built, so every writer goes through the same step. Their columns stay unbounded VARCHAR
(room for a token, no length a long source value could break on PostgreSQL only). Tables
without such fields are untouched.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec
import msgspec.inspect as mi
from sqlalchemy import BigInteger, Boolean, Column, Date, Double, MetaData, Numeric, String, Table, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from datasources.base import Event
from warehouse.sqltypes import UTC, UtcDateTime, utc_micros

if TYPE_CHECKING:
    from warehouse.protect import FactSealer

BASE_COLUMNS = ("key", "source", "seq", "ts")
MEASURE_FIELDS = ("amount", "delta", "value", "kwh")
DIMENSION_FIELDS = ("unit_id", "building_id")
KEY_LENGTH = 64  # Event allows keys of up to 64 characters; make_key gives 32 hex digits
INDEX_LENGTH = 64  # hex HMAC-SM3 / HMAC-SHA256
INDEX_SUFFIX = "_idx"
_NUMERIC = (mi.IntType, mi.FloatType, mi.DecimalType)
_JSON = (mi.DictType, mi.ListType, mi.TupleType, mi.VarTupleType, mi.SetType, mi.FrozenSetType,
         mi.StructType, mi.AnyType)

Convert = Callable[[Any], Any]
_PG = postgresql.dialect()


def table_name(schema: str) -> str:
    """`canteen.settlement` -> `f_canteen_settlement`."""
    return "f_" + re.sub(r"[^a-z0-9_]", "_", schema.lower())


def is_protected(field: str) -> bool:
    """Personal phone and ID-card numbers, recognised by name so a new schema is covered by construction."""
    return field in ("phone", "id_card") or field.endswith(("_phone", "_id_card"))


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _optional(fn: Convert) -> Convert:
    return lambda v: None if v is None else fn(v)


def _column_spec(name: str, t: mi.Type) -> tuple[TypeEngine[Any], bool, Convert | None, Convert | None]:
    """(SQL type, nullable, SQLite converter, PostgreSQL converter) for one Struct field."""
    nullable = False
    if isinstance(t, mi.UnionType):
        others = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(others) != 1:
            raise TypeError(f"field {name!r}: unions other than Optional[X] are not supported")
        nullable, t = len(others) < len(t.types), others[0]
    if isinstance(t, mi.LiteralType):
        kinds = {type(v) for v in t.values}
        t = mi.StrType() if kinds == {str} else mi.IntType() if kinds == {int} else t
    sql: TypeEngine[Any]
    lite: Convert | None = None
    pg: Convert | None = None
    if isinstance(t, mi.BoolType):
        sql = Boolean()
    elif isinstance(t, mi.IntType):
        sql = BigInteger()
    elif isinstance(t, mi.FloatType):
        sql = Double()
    elif isinstance(t, mi.DecimalType):
        sql, lite = Numeric(14, 2), float
    elif isinstance(t, mi.StrType):
        sql = String()
    elif isinstance(t, mi.DateTimeType):
        sql, lite, pg = UtcDateTime(), utc_micros, (None if name == "ts" else _aware)
    elif isinstance(t, mi.DateType):
        sql, lite = Date(), dt.date.isoformat
    elif isinstance(t, _JSON):
        sql, lite, pg = Text(), _json_text, _json_text
    else:
        raise TypeError(f"field {name!r}: no column type for {t!r}")
    if nullable:
        lite, pg = (_optional(f) if f else None for f in (lite, pg))
    return sql, nullable, lite, pg


@dataclass(frozen=True)
class FactTable:
    """One schema's table plus what the writers need to turn events into rows fast."""

    schema: str
    struct: type[Event]
    table: Table
    columns: tuple[str, ...]
    measure: str | None
    dim: str | None
    pg_types: tuple[str, ...]  # PostgreSQL type names of the columns, for binary COPY
    _getter: Callable[[Any], tuple[Any, ...]]
    _converters: dict[str, tuple[tuple[int, Convert], ...]]
    # (value position, index position, crypto context) per protected field; () for most tables
    protected: tuple[tuple[int, int, str], ...] = ()

    def rows(self, events: Iterable[Event], dialect: str, sealer: FactSealer | None = None) -> list[Any]:
        """Column values in `columns` order, as the dialect's driver takes them.

        Protected tables get their index columns appended and, given a sealer, sealed values and
        filled indexes; without one (tests, benches) values stay plaintext and indexes NULL.
        """
        get = self._getter
        conv = self._converters[dialect]
        if self.protected:
            return self._protected_rows(events, conv, sealer)
        if not conv:
            return [get(e) for e in events]
        # column-wise: the conversions run as map() over whole columns, not a Python loop per row
        # (-0.7 µs per SQLite row here, where every table converts its times)
        cols: list[Any] = list(zip(*map(get, events)))
        if not cols:
            return []
        for i, fn in conv:
            cols[i] = map(fn, cols[i])
        return list(zip(*cols))

    def converters(self, dialect: str) -> tuple[tuple[int, Convert], ...]:
        """(column position, function) of the values `rows` converts for the dialect's driver."""
        return self._converters[dialect]

    def _protected_rows(self, events: Iterable[Event], conv: tuple[tuple[int, Convert], ...],
                        sealer: FactSealer | None) -> list[Any]:
        get = self._getter
        pad = [None] * len(self.protected)
        out = []
        for e in events:
            row = list(get(e))
            for i, fn in conv:
                row[i] = fn(row[i])
            row += pad
            out.append(row)
        if sealer is not None:
            sealer.seal_rows(out, self.protected)
        return out


def build_fact_table(struct: type[Event], metadata: MetaData) -> FactTable:
    """Derive the table of one event schema and register it in `metadata`."""
    schema = struct.schema_name()
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    fields = {f.name: f.type for f in info.fields}
    missing = [c for c in BASE_COLUMNS if c not in fields]
    if missing:
        raise TypeError(f"{struct.__name__}: not an Event (missing {missing})")
    names = list(BASE_COLUMNS) + [n for n in fields if n not in BASE_COLUMNS]
    name = table_name(schema)
    cols: list[Column[Any]] = []
    converters: dict[str, list[tuple[int, Convert]]] = {"sqlite": [], "postgresql": []}
    protected = [f for f in names if is_protected(f)]
    for i, field in enumerate(names):
        sql, nullable, lite, pg = _column_spec(field, fields[field])
        if field in protected:
            if type(sql) is not String:  # a token is text: an int "phone" could not hold one
                raise TypeError(f"field {field!r}: a protected field (phone / ID card) must be a string")
        if field == "key":  # byte order, not a locale's: cheaper index inserts, same order for hex keys
            key_type = String(KEY_LENGTH).with_variant(String(KEY_LENGTH, collation="C"), "postgresql")
            cols.append(Column("key", key_type, primary_key=True))
        elif field == "source":
            cols.append(Column("source", String(64), nullable=False))
        else:
            cols.append(Column(field, sql, nullable=nullable, index=field == "ts"))
        for dialect, fn in (("sqlite", lite), ("postgresql", pg)):
            if fn is not None:
                converters[dialect].append((i, fn))
    # index columns go last, so every other column keeps its position (and tables their layout)
    cols += [Column(f + INDEX_SUFFIX, String(INDEX_LENGTH), nullable=True, index=True) for f in protected]
    positions = tuple((names.index(f), len(names) + j, f"{name}.{f}") for j, f in enumerate(protected))
    table = Table(name, metadata, *cols)
    measure = next((m for m in MEASURE_FIELDS if m in fields and _is_numeric(fields[m])), None)
    dim = next((d for d in DIMENSION_FIELDS if d in fields), None)
    pg_types = tuple(re.sub(r"\(.*\)|COLLATE.*", "", c.type.compile(dialect=_PG)).strip().lower() for c in cols)
    columns = tuple(names) + tuple(f + INDEX_SUFFIX for f in protected)
    return FactTable(schema, struct, table, columns, measure, dim, pg_types, attrgetter(*names),
                     {k: tuple(v) for k, v in converters.items()}, positions)


def _is_numeric(t: mi.Type) -> bool:
    if isinstance(t, mi.UnionType):
        return any(isinstance(u, _NUMERIC) for u in t.types)
    return isinstance(t, _NUMERIC)


class FactTables:
    """The fact tables of a set of event schemas, looked up by schema name."""

    def __init__(self, structs: Iterable[type[Event]], metadata: MetaData | None = None):
        self.metadata = metadata if metadata is not None else MetaData()
        self._by_schema: dict[str, FactTable] = {}
        for struct in structs:
            if struct.schema_name() in self._by_schema:
                raise ValueError(f"schema {struct.schema_name()!r} given twice")
            self._by_schema[struct.schema_name()] = build_fact_table(struct, self.metadata)

    def __getitem__(self, schema: str) -> FactTable:
        try:
            return self._by_schema[schema]
        except KeyError:
            raise KeyError(f"no fact table for schema {schema!r}") from None

    def __iter__(self) -> Iterator[FactTable]:
        return iter(self._by_schema.values())

    def __len__(self) -> int:
        return len(self._by_schema)

    @property
    def tables(self) -> list[Table]:
        return [ft.table for ft in self]

    def group(self, events: Sequence[Event]) -> list[tuple[FactTable, list[Event]]]:
        """Events by fact table, in table-name order (a fixed lock order across writers)."""
        groups: dict[type[Event], list[Event]] = {}
        for e in events:
            bucket = groups.get(type(e))
            if bucket is None:
                groups[type(e)] = bucket = []
            bucket.append(e)
        found = [(self[cls.schema_name()], evs) for cls, evs in groups.items()]
        return sorted(found, key=lambda pair: pair[0].table.name)

