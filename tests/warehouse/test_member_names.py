"""Display names of family members from the dimension tables the first start loads."""

from __future__ import annotations

from sqlalchemy import Engine

from domain.compound import build_compound
from warehouse.member_names import member_names
from warehouse.models import load_dimensions


def test_names_of_buildings_units_canteens_and_windows(warehouse: Engine) -> None:
    compound = build_compound(7)
    load_dimensions(warehouse, compound)
    with warehouse.connect() as conn:
        names = member_names(conn)
    zh, en = names["zh"], names["en"]
    assert zh["building"]["B01"] == compound.buildings[0].name == "1号楼"
    assert zh["canteen"] == {c.id: c.name for c in compound.canteens}
    unit = compound.units[0]
    assert (zh["unit"][unit.id], en["unit"][unit.id]) == (unit.name, unit.name_en)
    assert len(zh["unit"]) == len(compound.units) and len(zh["window"]) > 0
    assert "building" not in en
