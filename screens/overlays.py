"""Site maps of map panels: the GeoJSON file an `overlay:` names, read and checked when screens load.

The file lives beside the screens (`screens/maps/compound.geojson`), not under the public assets/, and
its features travel inside the signed-in page, so a wall needs no extra request. A file a wall could
not draw (missing, not JSON, not a FeatureCollection, a geometry without finite coordinates) is an
error at load time naming the screen file and panel, like every other screen error, instead of an
empty map on the wall.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from screens.model import MapPanel, Screen, show
from screens.rules import Issue

MAX_BYTES = 1_000_000  # it rides in the page; a survey this big needs simplifying for a wall anyway
# GeoJSON geometry type -> how deeply its coordinates nest lists of [lon, lat] positions
NESTING = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


class OverlayError(ValueError):
    """Why a site map cannot be drawn, worded for the person editing the file."""


def _position_problem(coords: Any, depth: int) -> str | None:
    if depth:
        if not isinstance(coords, list) or not coords:
            return f"expected a non-empty list of coordinates, got {show(coords)}"
        return next((p for c in coords if (p := _position_problem(c, depth - 1))), None)
    if not (isinstance(coords, list) and len(coords) in (2, 3) and all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in coords)):
        return f"expected a position [longitude, latitude], got {show(coords)}"
    lon, lat = coords[0], coords[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return f"position [{lon:g}, {lat:g}] is not [longitude, latitude] in degrees (WGS 84)"
    return None


def _feature_problem(feature: Any) -> str | None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return "expected a GeoJSON Feature ({\"type\": \"Feature\", \"geometry\": ..., \"properties\": ...})"
    props, geom = feature.get("properties"), feature.get("geometry")
    if props is not None and not isinstance(props, dict):
        return f"properties: expected an object, got {show(props)}"
    kind = geom.get("type") if isinstance(geom, dict) else None
    if kind not in NESTING:
        return f"geometry: expected one of {', '.join(NESTING)}, got {show(kind)}"
    problem = _position_problem(geom.get("coordinates"), NESTING[kind])
    return f"geometry.coordinates: {problem}" if problem else None


def read_overlay(folder: Path, name: str) -> dict[str, Any]:
    """The FeatureCollection in `folder/name`, or OverlayError saying what to fix."""
    try:
        raw = (folder / name).read_bytes()
    except FileNotFoundError:
        raise OverlayError(f"file '{name}' not found in {folder.name}/; give a path relative to {folder.name}/, "
                           "like 'maps/compound.geojson' (python app.py site-map writes the simulated "
                           "compound's)") from None
    except OSError as exc:
        raise OverlayError(f"cannot read '{name}': {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise OverlayError(f"'{name}' has {len(raw):,} bytes; a wall's site map must stay under {MAX_BYTES:,} "
                           "(simplify the outlines)")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise OverlayError(f"'{name}' is not UTF-8 text; save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise OverlayError(f"'{name}' is not GeoJSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
            doc.get("features"), list):
        got = f"type {show(doc.get('type'))}" if isinstance(doc, dict) else show(doc)
        raise OverlayError(f"'{name}' is not a GeoJSON FeatureCollection: expected {{\"type\": "
                           f"\"FeatureCollection\", \"features\": [...]}}, got {got}")
    for i, feature in enumerate(doc["features"]):
        problem = _feature_problem(feature)
        if problem:
            raise OverlayError(f"'{name}': features[{i}]: {problem}")
    return {"type": "FeatureCollection", "features": doc["features"]}


def with_overlays(screen: Screen, folder: Path) -> tuple[Screen, list[Issue]]:
    """The screen with each map panel's site map attached, and an issue at `overlay` for each unreadable one."""
    panels, issues = list(screen.panels), []
    for i, p in enumerate(panels):
        if isinstance(p, MapPanel) and p.overlay is not None:
            try:
                panels[i] = p.with_sites(read_overlay(folder, p.overlay))
            except OverlayError as exc:
                issues.append(Issue(("panels", i, "overlay"), str(exc)))
    return screen.model_copy(update={"panels": panels}), issues
