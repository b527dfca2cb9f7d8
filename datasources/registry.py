"""The list of access-layer systems (seed §9.3) and the event-schema lookup built from it."""

from __future__ import annotations

from functools import lru_cache

from datasources import (
    ba,
    canteen,
    energy,
    kindergarten,
    onecard,
    passage,
    property,
    rooms,
    security,
    vehicles,
)
from datasources.base import Event, SystemSpec

SYSTEMS: dict[str, SystemSpec] = {
    m.SPEC.name: m.SPEC
    for m in (canteen, onecard, passage, vehicles, energy, ba, security, property, rooms, kindergarten)
}


@lru_cache(maxsize=1)
def schemas() -> dict[str, type[Event]]:
    """schema name -> Struct class, across all systems."""
    out: dict[str, type[Event]] = {}
    for spec in SYSTEMS.values():
        for cls in spec.events:
            name = cls.schema_name()
            if not name.startswith(spec.name + "."):
                raise ValueError(f"{cls.__name__}: schema {name!r} must start with {spec.name!r}.")
            if name in out:
                raise ValueError(f"schema {name!r} declared twice")
            out[name] = cls
    return out
