"""Dimension tables of the theme libraries: what the ids in the facts mean.

They are loaded from the same seeded `Compound` the simulators use, so a fact's unit_id or
meter_id always resolves. Personal data (phone, id_card) is sealed by `warehouse.people.PersonProtector`
when one is given: SM4-GCM tokens under the `gm` profile (SECURITY.md), plaintext under `standard`, and
keyed-HMAC index columns under both, so look-ups take one code path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Float, ForeignKey, ForeignKeyConstraint, Integer, MetaData, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.compound import Compound

if TYPE_CHECKING:
    from warehouse.people import PersonProtector

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Building(Base):
    __tablename__ = "d_building"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    floors: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[float] = mapped_column(Float)
    quota_kwh_m2_year: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class Floor(Base):
    __tablename__ = "d_floor"
    building_id: Mapped[str] = mapped_column(ForeignKey("d_building.id"), primary_key=True)
    floor: Mapped[int] = mapped_column(Integer, primary_key=True)


class Unit(Base):
    __tablename__ = "d_unit"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    building_id: Mapped[str] = mapped_column(ForeignKey("d_building.id"), index=True)


class Person(Base):
    __tablename__ = "d_person"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[str] = mapped_column(ForeignKey("d_unit.id"), index=True)
    rank: Mapped[str] = mapped_column(String(16))
    card_no: Mapped[str] = mapped_column(String(32), index=True)
    # plaintext under the standard profile, an SM4-GCM token (~80 chars) under gm (warehouse/people.py)
    phone: Mapped[str] = mapped_column(String(128))
    id_card: Mapped[str] = mapped_column(String(128))
    gender: Mapped[str] = mapped_column(String(4))
    # keyed HMAC of the normalised value: equality look-ups without decrypting every row
    phone_idx: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    id_card_idx: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)


class Room(Base):
    __tablename__ = "d_room"
    __table_args__ = (ForeignKeyConstraint(["building_id", "floor"], ["d_floor.building_id", "d_floor.floor"]),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("d_building.id"), index=True)
    floor: Mapped[int] = mapped_column(Integer)
    area_m2: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16))


class Vehicle(Base):
    __tablename__ = "d_vehicle"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str] = mapped_column(ForeignKey("d_unit.id"), index=True)
    seats: Mapped[int] = mapped_column(Integer)
    fuel_l_per_100km: Mapped[float] = mapped_column(Float)


class Meter(Base):
    __tablename__ = "d_meter"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("d_building.id"), index=True)
    floor: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))


class Gate(Base):
    __tablename__ = "d_gate"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class Camera(Base):
    __tablename__ = "d_camera"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("d_building.id"), index=True)
    floor: Mapped[int] = mapped_column(Integer)  # 0 for perimeter devices
    zone: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))


class Canteen(Base):
    __tablename__ = "d_canteen"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(ForeignKey("d_building.id"))


class CanteenWindow(Base):
    __tablename__ = "d_canteen_window"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    canteen_id: Mapped[str] = mapped_column(ForeignKey("d_canteen.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))


class KgClass(Base):
    __tablename__ = "d_kg_class"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)


class Child(Base):
    __tablename__ = "d_child"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    class_id: Mapped[str] = mapped_column(ForeignKey("d_kg_class.id"), index=True)


class ChildGuardian(Base):
    __tablename__ = "d_child_guardian"
    child_id: Mapped[str] = mapped_column(ForeignKey("d_child.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("d_person.id"), primary_key=True, index=True)
    ordinal: Mapped[int] = mapped_column(Integer)  # 1 = the registered parent


PERSON_DERIVED = ("phone_idx", "id_card_idx")  # not in the compound: computed when rows are written


def _dimension_rows(c: Compound) -> list[tuple[type[Base], list[dict[str, Any]]]]:
    """Rows per model in foreign-key order."""
    def rows(items: Iterable[Any], model: type[Base], derived: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        cols = [col.key for col in model.__table__.columns if col.key not in derived]
        return [{k: getattr(item, k) for k in cols} for item in items]

    return [
        (Building, rows(c.buildings, Building)),
        (Floor, [{"building_id": b.id, "floor": f} for b in c.buildings for f in range(1, b.floors + 1)]),
        (Unit, rows(c.units, Unit)),
        (Person, rows(c.people, Person, derived=PERSON_DERIVED)),
        (Room, rows(c.rooms, Room)),
        (Vehicle, rows(c.vehicles, Vehicle)),
        (Meter, rows(c.meters, Meter)),
        (Gate, rows(c.gates, Gate)),
        (Camera, rows(c.cameras, Camera)),
        (Canteen, rows(c.canteens, Canteen)),
        (CanteenWindow, rows(c.windows, CanteenWindow)),
        (KgClass, [{"id": k} for k in c.kg_classes]),
        (Child, rows(c.children, Child)),
        (ChildGuardian, [{"child_id": ch.id, "person_id": p, "ordinal": i + 1}
                         for ch in c.children for i, p in enumerate(dict.fromkeys(ch.guardian_ids))]),
    ]


def load_dimensions(engine: Engine, compound: Compound, protect: PersonProtector | None = None) -> dict[str, int]:
    """Upsert the compound's base data; safe to run at every start (same seed, same rows).

    With `protect`, person rows are sealed by the active crypto profile (encrypted under gm, indexed
    always); each start re-seals them, so a changed CRYPTO_PROFILE takes effect at the next start."""
    counts: dict[str, int] = {}
    insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert
    with engine.begin() as conn:
        for model, rows in _dimension_rows(compound):
            if model is Person:
                rows = [{**row, **(protect.seal(row["phone"], row["id_card"]) if protect is not None
                                   else dict.fromkeys(PERSON_DERIVED))} for row in rows]
            table: Table = model.__table__  # type: ignore[assignment]
            if rows:
                stmt = insert(table)
                keys = [c.name for c in table.primary_key.columns]
                others = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
                stmt = stmt.on_conflict_do_update(index_elements=keys, set_=others) if others \
                    else stmt.on_conflict_do_nothing(index_elements=keys)
                conn.execute(stmt, rows)
            counts[table.name] = len(rows)
    return counts
