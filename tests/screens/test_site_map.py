"""The shipped site map (screens/maps/compound.geojson) is the simulated compound's, written by `app.py site-map`:
every building and gate is on it, inside the boundary, and the generator reproduces the file byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain.compound import Compound, build_compound
from domain.site_map import site_map_json
from settings import Settings

SHIPPED = Path(__file__).resolve().parents[2] / "screens" / "maps" / "compound.geojson"


@pytest.fixture(scope="module")
def compound() -> Compound:
    return build_compound(Settings().compound_seed)


@pytest.fixture(scope="module")
def features() -> list[dict[str, Any]]:
    doc = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    return doc["features"]


def _of_kind(features: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in features if f["properties"]["kind"] == kind]


def _box(feature: dict[str, Any]) -> tuple[float, float, float, float]:
    ring = feature["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


def _inside(lon: float, lat: float, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def test_every_building_is_on_the_map_with_its_chinese_name_around_its_point(
        compound: Compound, features: list[dict[str, Any]]) -> None:
    buildings = {f["properties"]["id"]: f for f in _of_kind(features, "building")}
    assert {b: f["properties"]["name"] for b, f in buildings.items()} == {b.id: b.name for b in compound.buildings}
    for b in compound.buildings:
        f = buildings[b.id]
        ring = f["geometry"]["coordinates"][0]
        assert f["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) >= 4
        assert _inside(b.lon, b.lat, _box(f)), b.id


def test_every_gate_is_a_point_and_everything_is_inside_the_boundary(
        compound: Compound, features: list[dict[str, Any]]) -> None:
    (boundary,) = _of_kind(features, "compound")
    wall = _box(boundary)
    gates = {f["properties"]["id"]: f for f in _of_kind(features, "gate")}
    assert {g: (f["properties"]["gate"], f["geometry"]["coordinates"]) for g, f in gates.items()} == {
        g.id: (g.kind, [round(g.lon, 6), round(g.lat, 6)]) for g in compound.gates}  # the file keeps 0.1 m
    assert all(_inside(lon, lat, wall) for f in gates.values() for lon, lat in [f["geometry"]["coordinates"]])
    for f in _of_kind(features, "building"):
        west, south, east, north = _box(f)
        assert _inside(west, south, wall) and _inside(east, north, wall), f["properties"]["id"]
    assert features[0] is boundary, "the boundary is drawn first, underneath the buildings"


def test_the_generator_reproduces_the_shipped_file(compound: Compound) -> None:
    assert site_map_json(compound) == SHIPPED.read_text(encoding="utf-8"), (
        "regenerate it: python app.py site-map > screens/maps/compound.geojson")


def test_the_site_map_command_prints_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    import app

    app.main(["site-map"])
    assert capsys.readouterr().out == SHIPPED.read_text(encoding="utf-8")
