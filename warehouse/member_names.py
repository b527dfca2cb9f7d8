"""Display names of the dimension members that metric families are keyed by.

A live family such as `energy.electricity.building.{building}` carries ids (B01, U07, CT1); a leader reads
names (1号楼, 财政局, 第一职工餐厅). The names come from the warehouse's dimension tables, read once when the
web process starts: they change with the compound's master data, not with events.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from warehouse.models import Building, Canteen, CanteenWindow, Unit

Names = dict[str, dict[str, str]]  # placeholder -> {member id: display name}


def member_names(conn: Connection) -> dict[str, Names]:
    """{lang: {placeholder: {id: name}}} for `zh` and `en`; where the master data has no English name (buildings,
    canteens, windows) an English page shows the id."""
    units = conn.execute(select(Unit.id, Unit.name, Unit.name_en)).all()
    zh: Names = {
        "unit": {u.id: u.name for u in units},
        "building": {i: n for i, n in conn.execute(select(Building.id, Building.name))},
        "canteen": {i: n for i, n in conn.execute(select(Canteen.id, Canteen.name))},
        "window": {i: n for i, n in conn.execute(select(CanteenWindow.id, CanteenWindow.name))},
    }
    return {"zh": zh, "en": {"unit": {u.id: u.name_en for u in units if u.name_en}}}
