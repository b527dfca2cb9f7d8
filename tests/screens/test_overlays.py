"""A map panel's `overlay:` names a GeoJSON site map beside the screens; the loader reads and checks it, and a file
a wall could not draw is an error naming the screen file, line, panel and field, like every other screen error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screens.loader import Catalogue, ScreenError, load_all, load_screen
from screens.model import MapPanel
from screens.overlays import MAX_BYTES

CATALOGUE = Catalogue(metrics=["vehicles.position"], queries=[])
SCREEN = """\
schema_version: 1
id: yard
title: {{zh: 大院, en: Yard}}
panels:
  - id: positions
    type: map
    title: {{zh: 车辆位置, en: Vehicle positions}}
    at: {{x: 0, y: 0, w: 12, h: 6}}
    layer: vehicles
    bind: {{live: vehicles.position}}
    overlay: {overlay}
"""
SITE = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"kind": "building", "id": "B01", "name": "1号楼"},
     "geometry": {"type": "Polygon", "coordinates": [[[117.12, 36.65], [117.121, 36.65], [117.121, 36.651],
                                                      [117.12, 36.651], [117.12, 36.65]]]}},
    {"type": "Feature", "properties": {"kind": "gate", "id": "GV01", "name": "车辆道闸1", "gate": "vehicle"},
     "geometry": {"type": "Point", "coordinates": [117.12, 36.6495]}},
]}


def folder(tmp_path: Path, site: str | bytes | None, overlay: str = "maps/site.geojson") -> Path:
    """screens/yard.yaml with one map panel, and (unless None) screens/maps/site.geojson holding `site`."""
    screens = tmp_path / "screens"
    (screens / "maps").mkdir(parents=True)
    (screens / "yard.yaml").write_text(SCREEN.format(overlay=overlay), encoding="utf-8")
    if site is not None:
        target = screens / "maps" / "site.geojson"
        if isinstance(site, bytes):
            target.write_bytes(site)
        else:
            target.write_text(site, encoding="utf-8")
    return screens


def message(screens: Path) -> str:
    with pytest.raises(ScreenError) as info:
        load_screen(screens / "yard.yaml", CATALOGUE, root=screens.parent)
    return str(info.value)


def test_a_good_site_map_rides_on_the_panel(tmp_path: Path) -> None:
    screens = folder(tmp_path, json.dumps(SITE, ensure_ascii=False))
    panel = load_screen(screens / "yard.yaml", CATALOGUE, root=screens.parent).panels[0]
    assert isinstance(panel, MapPanel) and panel.overlay == "maps/site.geojson"
    assert panel.sites == SITE


def test_a_panel_without_overlay_has_no_site_map(tmp_path: Path) -> None:
    screens = folder(tmp_path, None)
    (screens / "yard.yaml").write_text(SCREEN.format(overlay="maps/site.geojson").replace(
        "    overlay: maps/site.geojson\n", ""), encoding="utf-8")
    panel = load_screen(screens / "yard.yaml", CATALOGUE, root=screens.parent).panels[0]
    assert isinstance(panel, MapPanel) and panel.overlay is None and panel.sites is None


def test_a_missing_file(tmp_path: Path) -> None:
    assert message(folder(tmp_path, None, overlay="maps/nope.geojson")) == (
        "screens/yard.yaml:11: panel 'positions': overlay: file 'maps/nope.geojson' not found in screens/; give a "
        "path relative to screens/, like 'maps/compound.geojson' (python app.py site-map writes the simulated "
        "compound's)")


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    assert message(folder(tmp_path, '{"type": "FeatureCollection",\n "features": [}')) == (
        "screens/yard.yaml:11: panel 'positions': overlay: 'maps/site.geojson' is not GeoJSON: Expecting value at "
        "line 2 column 15")


@pytest.mark.parametrize(("site", "got"), [
    ({"type": "Feature", "geometry": None, "properties": {}}, "type 'Feature'"),
    ({"type": "FeatureCollection"}, "type 'FeatureCollection'"),
    ([1, 2], "a list"),
])
def test_json_that_is_not_a_feature_collection(tmp_path: Path, site: object, got: str) -> None:
    assert message(folder(tmp_path, json.dumps(site))) == (
        "screens/yard.yaml:11: panel 'positions': overlay: 'maps/site.geojson' is not a GeoJSON FeatureCollection: "
        f'expected {{"type": "FeatureCollection", "features": [...]}}, got {got}')


@pytest.mark.parametrize(("feature", "problem"), [
    ({"type": "Feature", "properties": {}, "geometry": {"type": "Circle", "coordinates": [1, 2]}},
     "geometry: expected one of Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon, got 'Circle'"),
    ({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [36.65, 117.12, 5, 1]}},
     "geometry.coordinates: expected a position [longitude, latitude], got a list"),
    ({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [36.65, 117.12]}},
     "geometry.coordinates: position [36.65, 117.12] is not [longitude, latitude] in degrees (WGS 84)"),
    ({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": []}},
     "geometry.coordinates: expected a non-empty list of coordinates, got a list"),
    ({"type": "Feature", "properties": "B01", "geometry": {"type": "Point", "coordinates": [117.12, 36.65]}},
     "properties: expected an object, got 'B01'"),
    ({"geometry": {"type": "Point", "coordinates": [117.12, 36.65]}},
     'expected a GeoJSON Feature ({"type": "Feature", "geometry": ..., "properties": ...})'),
])
def test_a_feature_a_wall_cannot_draw(tmp_path: Path, feature: dict[str, object], problem: str) -> None:
    site = {"type": "FeatureCollection", "features": [SITE["features"][0], feature]}
    assert message(folder(tmp_path, json.dumps(site))) == (
        f"screens/yard.yaml:11: panel 'positions': overlay: 'maps/site.geojson': features[1]: {problem}")


def test_non_finite_coordinates_are_refused(tmp_path: Path) -> None:
    text = '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": null, ' \
           '"geometry": {"type": "Point", "coordinates": [NaN, 36.65]}}]}'
    assert message(folder(tmp_path, text)).endswith(
        "features[0]: geometry.coordinates: expected a position [longitude, latitude], got a list")


def test_a_file_too_big_for_a_wall(tmp_path: Path) -> None:
    assert message(folder(tmp_path, b" " * (MAX_BYTES + 1))) == (
        "screens/yard.yaml:11: panel 'positions': overlay: 'maps/site.geojson' has 1,000,001 bytes; a wall's site map "
        "must stay under 1,000,000 (simplify the outlines)")


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    assert message(folder(tmp_path, json.dumps(SITE, ensure_ascii=False).encode("gbk"))) == (
        "screens/yard.yaml:11: panel 'positions': overlay: 'maps/site.geojson' is not UTF-8 text; save it as UTF-8")


def test_a_broken_site_map_leaves_the_screen_out_and_keeps_the_others(tmp_path: Path) -> None:
    screens = folder(tmp_path, "not json")
    (screens / "lobby.yaml").write_text(SCREEN.format(overlay="maps/site.geojson").replace("id: yard", "id: lobby")
                                        .replace("    overlay: maps/site.geojson\n", ""), encoding="utf-8")
    result = load_all(screens, CATALOGUE)
    assert sorted(result.screens) == ["lobby"]
    assert [e.file for e in result.errors] == ["screens/yard.yaml"]
