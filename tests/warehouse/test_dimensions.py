"""Dimensions loaded from the seeded compound: complete, consistent, and idempotent."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from domain.compound import build_compound
from warehouse.models import Base, Child, ChildGuardian, Floor, Person, Room, load_dimensions


def test_load_dimensions_is_complete_and_idempotent(warehouse: Engine) -> None:
    compound = build_compound(seed=7, staff=300)
    first = load_dimensions(warehouse, compound)
    second = load_dimensions(warehouse, compound)
    assert first == second
    assert first["d_person"] == 300 and first["d_room"] == len(compound.rooms)
    assert first["d_floor"] == sum(b.floors for b in compound.buildings)
    assert first["d_canteen_window"] == len(compound.windows)
    with warehouse.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name.startswith("d_"):
                n = conn.execute(select(func.count()).select_from(table)).scalar_one()
                assert n == first[table.name], table.name


def test_people_children_and_guardians_resolve(warehouse: Engine) -> None:
    compound = build_compound(seed=7, staff=300)
    load_dimensions(warehouse, compound)
    src = compound.people[0]
    with Session(warehouse) as s:
        p = s.get(Person, src.id)
        assert p is not None
        assert (p.name, p.unit_id, p.rank, p.card_no, p.phone, p.id_card) == (
            src.name, src.unit_id, src.rank, src.card_no, src.phone, src.id_card)
        child = compound.children[0]
        guardians = s.scalars(select(ChildGuardian.person_id).where(ChildGuardian.child_id == child.id)
                              .order_by(ChildGuardian.ordinal)).all()
        assert guardians == list(dict.fromkeys(child.guardian_ids))
        assert s.get(Child, child.id).class_id == child.class_id  # type: ignore[union-attr]
        room = s.get(Room, compound.rooms[0].id)
        assert room is not None and s.get(Floor, (room.building_id, room.floor)) is not None


def test_reloading_a_changed_compound_updates_rows(warehouse: Engine) -> None:
    compound = build_compound(seed=7, staff=300)
    load_dimensions(warehouse, compound)
    renamed = compound.people[5].__class__(**{**compound.people[5].__dict__, "name": "王改名"})
    compound.people[5] = renamed
    load_dimensions(warehouse, compound)
    with Session(warehouse) as s:
        assert s.get(Person, renamed.id).name == "王改名"  # type: ignore[union-attr]
