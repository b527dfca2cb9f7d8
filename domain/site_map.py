"""The simulated compound's site map as GeoJSON: boundary, building footprints, gates.

The map panel draws a compound from a GeoJSON file the operator owns (`screens/maps/compound.geojson`),
because a wall has no internet tiles. This module writes that file once for the simulated compound
(`python app.py site-map > screens/maps/compound.geojson`); a real compound replaces it with its own
survey in the same shape. Only buildings and gates have coordinates in the compound model, so a
footprint is a rectangle of the building's floor area (area / floors, twice as wide as deep) around
its point, and the boundary is the box around every footprint, widened to reach the gates (gates sit
in the wall).
"""

from __future__ import annotations

import json
import math
from typing import Any

from domain.compound import Compound

M_PER_DEG_LAT = 111_320.0
MARGIN_M = 20.0  # yard between the outermost footprints and the boundary wall
DIGITS = 6  # about 0.1 m: finer than any survey the file will be replaced with


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> list[float]:
    """[lon, lat] (GeoJSON order) of a point `north_m`/`east_m` metres from (lat, lon)."""
    return [round(lon + east_m / (M_PER_DEG_LAT * math.cos(math.radians(lat))), DIGITS),
            round(lat + north_m / M_PER_DEG_LAT, DIGITS)]


def _box(west: float, south: float, east: float, north: float) -> list[list[list[float]]]:
    """A closed counter-clockwise ring (RFC 7946's right-hand rule for exterior rings)."""
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def _feature(geometry_type: str, coordinates: Any, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties,
            "geometry": {"type": geometry_type, "coordinates": coordinates}}


def site_map(compound: Compound) -> dict[str, Any]:
    """The FeatureCollection: the compound boundary first (drawn underneath), then buildings, then gates."""
    buildings = []
    for b in compound.buildings:
        floor_m2 = b.area_m2 / b.floors
        half_w, half_d = math.sqrt(2 * floor_m2) / 2, math.sqrt(floor_m2 / 2) / 2
        sw, ne = _offset(b.lat, b.lon, -half_d, -half_w), _offset(b.lat, b.lon, half_d, half_w)
        buildings.append(_feature("Polygon", _box(sw[0], sw[1], ne[0], ne[1]), {
            "kind": "building", "id": b.id, "name": b.name, "name_en": f"Building {b.id[1:].lstrip('0')}",
            "floors": b.floors}))
    gates = [_feature("Point", [round(g.lon, DIGITS), round(g.lat, DIGITS)],
                      {"kind": "gate", "id": g.id, "name": g.name, "gate": g.kind}) for g in compound.gates]
    corners = [pt for f in buildings for pt in f["geometry"]["coordinates"][0]]
    lons, lats = [p[0] for p in corners], [p[1] for p in corners]
    west, south = _offset(min(lats), min(lons), -MARGIN_M, -MARGIN_M)
    east, north = _offset(max(lats), max(lons), MARGIN_M, MARGIN_M)
    points = [f["geometry"]["coordinates"] for f in gates]
    ring = _box(min([west, *(p[0] for p in points)]), min([south, *(p[1] for p in points)]),
                max([east, *(p[0] for p in points)]), max([north, *(p[1] for p in points)]))
    boundary = _feature("Polygon", ring, {"kind": "compound", "name": "机关大院", "name_en": "Government compound"})
    return {"type": "FeatureCollection", "features": [boundary, *buildings, *gates]}


def site_map_json(compound: Compound) -> str:
    """The file's text: one feature per line, so an operator can edit it by hand and a diff stays readable."""
    fc = site_map(compound)
    lines = [json.dumps(f, ensure_ascii=False, separators=(", ", ": ")) for f in fc["features"]]
    return '{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"
