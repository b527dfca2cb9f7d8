"""The vehicles screen's map in headless Chromium on the real `app.py run`: the compound's site map (no tiles, nothing
from outside 127.0.0.1) with every building outlined and named, and a vehicle position XADDed to Redis drawn as a
marker on the right building, moved in place when the vehicle moves, pinned to the edge when it leaves the map."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from datasources.base import make_key
from datasources.vehicles.schemas import VehiclePosition
from tests.browser.conftest import REPO, SCREENS
from tests.browser.test_real_app import WAIT
from tests.browser.test_screens import new_page
from tests.realapp import RealApp

BUILDINGS = {f["properties"]["id"]: f for f in json.loads(
    (REPO / "screens" / "maps" / "compound.geojson").read_text(encoding="utf-8"))["features"]
    if f["properties"]["kind"] == "building"}
MAP = '.sc-panel[data-panel="positions"]'


@pytest.fixture(scope="module")
def app_signed_in(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[RealApp, list[dict]]]:
    app = RealApp(tmp_path_factory.mktemp("screen_map"))
    app.start()
    context = browser.new_context()
    app.sign_in_viewer(context.new_page(), "map.viewer")
    cookies = context.cookies()
    context.close()
    yield app, cookies
    app.kill()
    app.stop_redis()


def centre_of(building: str) -> tuple[float, float]:
    ring = BUILDINGS[building]["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2


def position(seq: int, vehicle: str, lat: float, lon: float, trip: str | None) -> VehiclePosition:
    ts = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=seq)  # newer fixes win per vehicle
    return VehiclePosition(source="test.vehicles", ts=ts, key=make_key(ts), seq=seq, vehicle_id=vehicle,
                           plate="鲁A" + vehicle, lat=lat, lon=lon, speed_kmh=30.0, odometer_km=1000.0, trip_id=trip)


def box_centre(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def expect_on(page: Any, marker: Any, building: str) -> None:
    """The marker's centre is the building's centre on screen (Leaflet rounds projected points to whole pixels)."""
    target = page.locator(f'{MAP} path[data-site="{building}"]')
    page.wait_for_function("([m, b]) => { const r = document.querySelector(m).getBoundingClientRect(),"
                           " s = document.querySelector(b).getBoundingClientRect();"
                           " return Math.abs(r.x + r.width / 2 - s.x - s.width / 2) < 1.5"
                           " && Math.abs(r.y + r.height / 2 - s.y - s.height / 2) < 1.5; }",
                           arg=[f"{MAP} path.sc-veh", f'{MAP} path[data-site="{building}"]'], timeout=WAIT)
    (mx, my), (bx, by) = box_centre(marker), box_centre(target)
    assert abs(mx - bx) < 1.5 and abs(my - by) < 1.5


def test_the_map_outlines_every_building_and_moves_a_vehicle_in_place(app_signed_in: Any, browser: Any) -> None:
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, 1920, 1080, 1)
    page.goto(f"{app.url}/screens/vehicles?kiosk=1")
    expect(page.locator(".sc-banner")).to_be_hidden(timeout=WAIT)
    expect(page.locator(f"{MAP} path.sc-site-building")).to_have_count(len(BUILDINGS), timeout=WAIT)
    expect(page.locator(f"{MAP} path.sc-site-boundary")).to_have_count(1)
    labels = page.locator(f"{MAP} .sc-map-label:not(.sc-map-hidden) .sc-map-label-text")
    assert sorted(labels.all_inner_texts()) == sorted(f["properties"]["name"] for f in BUILDINGS.values())
    assert page.locator(f"{MAP} .leaflet-control-container a, {MAP} .leaflet-tile").count() == 0
    host = page.locator(f"{MAP} .sc-map").bounding_box()
    outline = page.locator(f"{MAP} path.sc-site-boundary").bounding_box()
    assert host and outline and outline["width"] > 0.85 * host["width"], "the site map fills the panel's width"
    assert host["x"] <= outline["x"] and outline["x"] + outline["width"] <= host["x"] + host["width"]
    assert host["y"] <= outline["y"] and outline["y"] + outline["height"] <= host["y"] + host["height"]

    marker = page.locator(f"{MAP} path.sc-veh")
    app.producer().submit([position(1, "V901", *centre_of("B03"), trip="TRIP-1")])
    expect(marker).to_have_count(1, timeout=WAIT)
    expect_on(page, marker, "B03")
    expect(marker).to_have_class(re.compile(r"\bsc-veh-trip\b"))
    expect(page.locator(f"{MAP} .sc-lg-trip .sc-n")).to_have_text("1")
    marker.evaluate("el => { el.__probe = 'first'; }")

    app.producer().submit([position(2, "V901", *centre_of("B08"), trip=None)])
    expect_on(page, marker, "B08")
    expect(marker).to_have_count(1)
    expect(marker).not_to_have_class(re.compile(r"\bsc-veh-trip\b"))
    assert marker.evaluate("el => el.__probe") == "first", "a moved vehicle keeps its marker"
    expect(page.locator(f"{MAP} .sc-lg-parked .sc-n")).to_have_text("1")

    app.producer().submit([position(3, "V902", 36.80, centre_of("B03")[1], trip="TRIP-2")])  # 16 km north
    away = page.locator(f"{MAP} path.sc-veh.sc-veh-away")
    expect(away).to_have_count(1, timeout=WAIT)
    ax, ay = box_centre(away)
    assert host and abs(ax - host["x"] - host["width"] / 2) < 10 and host["y"] < ay < host["y"] + 30, (
        "pinned to the top edge, in its direction from the map's centre")
    page.context.close()
    assert not log.external, f"requests left 127.0.0.1: {log.external}"
    assert log.unexpected_errors() == [], log.console_errors


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_the_vehicles_screen_with_its_map_at_wall_sizes(app_signed_in: Any, browser: Any, width: int,
                                                        height: int) -> None:
    """Screenshots for a person to look at; the labels keep their design size relative to the canvas."""
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, width, height, 1)
    page.goto(f"{app.url}/screens/vehicles?kiosk=1")
    expect(page.locator(f"{MAP} path.sc-site-building")).to_have_count(len(BUILDINGS), timeout=WAIT)
    canvas = page.locator(".sc-canvas").first.bounding_box()
    label = page.locator(f"{MAP} .sc-map-label-text").first.bounding_box()
    assert canvas and label and label["height"] / canvas["height"] >= 0.95 * 24 / 1080, "readable across the room"
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"screen_vehicles_map_{width}x{height}.png"))
    page.context.close()
    assert not log.external, f"requests left 127.0.0.1: {log.external}"
    assert log.unexpected_errors() == [], log.console_errors


def test_a_map_on_a_later_wall_slide_is_fitted_when_its_slide_shows(app_signed_in: Any, browser: Any) -> None:
    """A hidden slide has no size: the map is made and fitted when the rotation brings the slide into view."""
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, 1920, 1080, 1)
    page.clock.install()
    page.goto(f"{app.url}/wall/leadership?kiosk=1")
    slide = page.locator('.sc-slide[data-screen="vehicles"]')
    expect(page.locator(".sc-slide").first).to_be_visible(timeout=WAIT)
    expect(slide).to_be_hidden()
    assert slide.locator("path.sc-site-building").count() == 0
    page.clock.run_for(sum(int(s.get_attribute("data-dwell") or 0) for s in page.locator(".sc-slide").all()[:4]) * 1000
                       + 1000)
    expect(slide).to_be_visible(timeout=WAIT)
    expect(slide.locator("path.sc-site-building")).to_have_count(len(BUILDINGS), timeout=WAIT)
    host = slide.locator(".sc-map").bounding_box()
    outline = slide.locator("path.sc-site-boundary").bounding_box()
    assert host and outline and outline["width"] > 0.85 * host["width"]
    page.context.close()
    log.allow_console_error(r"WebSocket connection to .* failed")  # the fake clock times the socket out
    assert log.unexpected_errors() == [], log.console_errors
