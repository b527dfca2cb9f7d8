"""The map panel's server side: the site map rides in the panel's data-spec (so it stays behind the page's sign-in
and the wall makes no extra request), a Leaflet host and a legend per layer; and the vendored Leaflet stylesheet
styles only Leaflet's own elements, since Dash loads it on every page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import analytics.metrics  # noqa: F401 - importing registers every metric
from analytics.deltas import metrics
from layouts.panels import RENDERERS, RenderContext, panel_spec
from layouts.screen_page import screen_page
from screens.loader import Catalogue, LoadResult, load_all
from screens.model import MapPanel
from warehouse.panel_queries import NAMED_QUERIES

ROOT = Path(__file__).resolve().parents[1]
KINDS = {n: i.kind for n, i in metrics().items()}


@pytest.fixture(scope="module")
def loaded() -> LoadResult:
    return load_all(ROOT / "screens", Catalogue(metrics(), NAMED_QUERIES))


def _walk(node: Any) -> list[Any]:
    children = getattr(node, "children", None)
    kids = children if isinstance(children, list | tuple) else [children] if children is not None else []
    return [node, *(n for c in kids for n in _walk(c))]


def _text(node: Any) -> str:
    return "".join(n for n in _walk(node) if isinstance(n, str))


def _classes(node: Any) -> list[str]:
    return (getattr(node, "className", None) or "").split()


def _section(tree: Any, section_id: str) -> Any:
    return next(n for n in _walk(tree) if getattr(n, "id", None) == section_id)


def test_the_site_map_rides_in_the_vehicle_map_spec(loaded: LoadResult) -> None:
    tree = screen_page([(loaded.screens["vehicles"], {}, None)], lang="zh", kiosk=True, kinds=KINDS)
    section = _section(tree, "vehicles--positions")
    spec = json.loads(section.to_plotly_json()["props"]["data-spec"])
    shipped = json.loads((ROOT / "screens" / "maps" / "compound.geojson").read_text(encoding="utf-8"))
    assert spec["layer"] == "vehicles" and spec["bind"] == [{"key": "vehicles.position", "kind": "last"}]
    assert spec["sites"] == shipped
    assert [n for n in _walk(section) if "sc-map" in _classes(n)], "the Leaflet host"
    assert not [n for n in _walk(section) if "sc-svg" in _classes(n)], "no svg scatter any more"
    legend = [n for n in _walk(section) if type(n).__name__ == "Li"]
    assert [(_classes(li)[0], _text(li)) for li in legend] == [
        ("sc-lg-trip", "出车—"), ("sc-lg-parked", "停放—"), ("sc-lg-away", "院外"),
        ("sc-lg-gate_person", "人行闸机"), ("sc-lg-gate_vehicle", "车辆道闸")]


def test_a_sites_map_in_english_has_a_legend_without_vehicles(loaded: LoadResult) -> None:
    vehicles_map = next(p for p in loaded.screens["vehicles"].panels if isinstance(p, MapPanel))
    sites = MapPanel.model_validate({**vehicles_map.model_dump(exclude_none=True), "layer": "sites"}).with_sites(
        vehicles_map.sites or {})
    ctx = RenderContext(lang="en", kinds=KINDS)
    legend = [n for n in _walk(RENDERERS["map"].body(sites, ctx)[1]) if type(n).__name__ == "Li"]
    assert [_text(li) for li in legend] == ["Buildings", "Pedestrian gates", "Vehicle gates"]
    assert panel_spec(sites, ctx)["sites"] is vehicles_map.sites


def test_a_map_without_overlay_has_no_site_map(loaded: LoadResult) -> None:
    vehicles_map = next(p for p in loaded.screens["vehicles"].panels if isinstance(p, MapPanel))
    bare = MapPanel.model_validate({**vehicles_map.model_dump(exclude_none=True, exclude={"overlay"})})
    assert panel_spec(bare, RenderContext(kinds=KINDS))["sites"] is None


def test_the_vendored_leaflet_css_styles_only_leaflet_elements() -> None:
    css = re.sub(r"/\*.*?\*/", "", (ROOT / "assets" / "vendor" / "leaflet" / "leaflet.css").read_text(), flags=re.S)
    css = re.sub(r"@media[^{]*\{", "", css)  # the print block's rules are checked like the others
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", css) for s in block.split(",")]
    assert len(selectors) > 100
    assert [s for s in selectors if not re.search(r"\.(leaflet-[a-z-]+|lvml)\b", s)] == []
