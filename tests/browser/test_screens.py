"""The YAML screens in headless Chromium on the real `app.py run`: every shipped screen renders at wall sizes
and pixel ratios with no console error, no scrollbar and nothing from outside 127.0.0.1; an event XADDed to
Redis shows on the canteen screen; the leadership playlist rotates without reloading the page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from domain.calendar import default_calendar
from domain.compound import build_compound
from settings import Settings
from streams.live_state import LiveState
from streams.push import room_of, socketio_emitter
from streams.redis_conn import connect
from tests.browser.conftest import SCREENS, PageLog, _is_local
from tests.browser.test_real_app import WAIT
from tests.fault.services import wait_until
from tests.realapp import RealApp, settlements
from warehouse.panel_queries import quota_share

SHIPPED = ["overview", "canteen", "security", "energy", "vehicles", "property"]
SIZES = [(1366, 768, 1), (1920, 1080, 1), (1920, 1080, 1.25), (3840, 2160, 1.5), (5760, 2160, 1)]


@pytest.fixture(scope="module")
def app_signed_in(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[RealApp, list[dict]]]:
    """One real app for the module and the cookies of a signed-in leadership viewer."""
    app = RealApp(tmp_path_factory.mktemp("screens"))
    app.start()
    context = browser.new_context()
    page = context.new_page()
    app.sign_in_viewer(page, "screens.viewer")
    cookies = context.cookies()
    context.close()
    yield app, cookies
    app.kill()
    app.stop_redis()


def new_page(browser: Any, cookies: list[dict], width: int, height: int, scale: float) -> tuple[Any, PageLog]:
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale,
                                  service_workers="block")
    context.add_cookies(cookies)
    page = context.new_page()
    log = PageLog(page)
    context.route("**/*", lambda r: r.continue_() if _is_local(r.request.url) else (log.external.append(
        r.request.url), r.abort()))
    page.on("console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: log.console_errors.append(f"uncaught: {exc}"))
    return page, log


def no_overflow(page: Any) -> bool:
    return page.evaluate("() => { const s = document.scrollingElement;"
                         " return s.scrollWidth <= innerWidth && s.scrollHeight <= innerHeight; }")


@pytest.mark.parametrize("width,height,scale", SIZES)
def test_every_shipped_screen_fits_the_wall(app_signed_in: Any, browser: Any, width: int, height: int,
                                            scale: float) -> None:
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, width, height, scale)
    for screen in SHIPPED:
        page.goto(f"{app.url}/screens/{screen}?kiosk=1")
        expect(page.locator(f'.sc-slide[data-screen="{screen}"]')).to_be_visible(timeout=WAIT)
        expect(page.locator(".sc-panel").first).to_be_visible()
        assert no_overflow(page), f"{screen} at {width}x{height}@{scale} has scrollbars"
        box = page.locator(".sc-canvas").first.bounding_box()
        assert box and box["width"] <= width + 1 and box["height"] <= height + 1, (screen, box)
        if (width, height, scale) in ((1920, 1080, 1), (3840, 2160, 1.5), (1366, 768, 1)):
            SCREENS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENS / f"screen_{screen}_{width}x{height}.png"))
    page.context.close()
    assert not log.external, f"requests left 127.0.0.1: {log.external}"
    assert log.unexpected_errors() == [], log.console_errors


def test_an_event_xadded_shows_on_the_canteen_screen(app_signed_in: Any, browser: Any) -> None:
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, 1920, 1080, 1)
    page.goto(f"{app.url}/screens/canteen")
    num = page.locator('.sc-panel[data-panel="meals_today"] .sc-num')
    expect(page.locator(".sc-banner")).to_be_hidden(timeout=WAIT)
    expect(num).not_to_have_text("—", timeout=WAIT)
    before = int(re.sub(r"[^\d]", "", num.inner_text()) or 0)
    app.producer().submit(settlements(7, 1))
    expect(num).to_have_text(f"{before + 7:,}", timeout=WAIT)
    page.context.close()
    assert log.unexpected_errors() == [], log.console_errors


def test_an_update_older_than_the_snapshot_is_not_shown(app_signed_in: Any, browser: Any) -> None:
    """screen.js applies an update only if its `v` is not below its topic's snapshot's: one read from an older
    state but delivered after the snapshot must not bring back an older number (streams/topics.py)."""
    app, cookies = app_signed_in
    live = LiveState(connect(app.redis_url()), ZoneInfo("Asia/Shanghai"))
    if live.read()[0] == 0:  # a version (Redis's clock in µs) above the stale update's 1 before the snapshot
        app.producer().submit(settlements(1, 900))
        wait_until(lambda: live.read()[0] > 0, 15, "the worker to apply the settlement")
    page, log = new_page(browser, cookies, 1920, 1080, 1)
    page.goto(f"{app.url}/screens/canteen")
    meals = page.locator('.sc-panel[data-panel="meals_today"] .sc-num')
    samples = page.locator('.sc-panel[data-panel="samples_logged"] .sc-num')
    expect(page.locator(".sc-banner")).to_be_hidden(timeout=WAIT)
    expect(meals).not_to_have_text("—", timeout=WAIT)
    shown = meals.inner_text()
    now = dt.datetime.now(dt.UTC)
    emit = socketio_emitter(app.redis_url(), "cc-live")  # the worker's way to the page: the message queue
    base = {"topic": "screen:canteen", "t": int(now.timestamp() * 1000), "day": live.day_key(now)}
    emit("update", {**base, "v": 1, "sums": {"canteen.meals": 987_654.0}}, room_of("screen:canteen"))
    emit("update", {**base, "v": live.read()[0], "sums": {"canteen.samples": 424_242.0}}, room_of("screen:canteen"))
    expect(samples).to_have_text("424,242", timeout=WAIT)  # one socket, in order: the older one came first
    expect(meals).to_have_text(shown)
    # two consumers' pushers: an update may overtake an older one; the value read from the older state loses
    v = live.read()[0]
    emit("update", {**base, "v": v + 2, "sums": {"canteen.meals": 555_555.0}}, room_of("screen:canteen"))
    emit("update", {**base, "v": v + 1, "sums": {"canteen.meals": 555_000.0}}, room_of("screen:canteen"))
    emit("update", {**base, "v": v + 3, "sums": {"canteen.samples": 434_343.0}}, room_of("screen:canteen"))
    expect(samples).to_have_text("434,343", timeout=WAIT)
    expect(meals).to_have_text("555,555")
    page.context.close()
    assert log.unexpected_errors() == [], log.console_errors


def test_the_leadership_wall_rotates_without_reloading(app_signed_in: Any, browser: Any) -> None:
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, 1920, 1080, 1)
    page.goto(f"{app.url}/wall/leadership?kiosk=1")
    slides = page.locator(".sc-slide")
    expect(slides.first).to_be_visible(timeout=WAIT)
    assert slides.count() == 6
    page.evaluate("window.__marker = 1")
    first = page.locator(".sc-slide:visible").get_attribute("data-screen")
    dwell = int(slides.first.get_attribute("data-dwell"))
    assert dwell >= 5
    expect(page.locator(f'.sc-slide[data-screen="{first}"]')).to_be_hidden(timeout=(dwell + 10) * 1000)
    assert page.evaluate("window.__marker") == 1, "rotation must not reload the page"
    page.context.close()
    assert log.unexpected_errors() == [], log.console_errors


def test_invalid_screens_are_reported_by_the_page(app_signed_in: Any, browser: Any) -> None:
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, 1366, 768, 1)
    page.goto(f"{app.url}/screens/no_such_screen")
    expect(page.locator("#sc-error-page")).to_contain_text("no_such_screen", timeout=WAIT)
    page.context.close()
    assert log.unexpected_errors() == [], log.console_errors



def test_query_panels_are_answered_from_the_warehouse(app_signed_in: Any, browser: Any) -> None:
    """The overview's gauge takes today's quota from the buildings' master data; the property screen's ranking by
    unit (a query on an empty warehouse) says so, with the time of its answer."""
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, 1920, 1080, 1)
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    annual = sum(b.area_m2 * b.quota_kwh_m2_year for b in build_compound(Settings().compound_seed).buildings)
    quota = round(annual * quota_share(today, default_calendar(), 40))
    page.goto(f"{app.url}/screens/overview?kiosk=1")
    expect(page.locator("#overview--energy_vs_quota .sc-gauge-end").nth(1)).to_have_text(f"{quota:,}", timeout=WAIT)
    page.goto(f"{app.url}/screens/property?kiosk=1")
    ranking = page.locator("#property--orders_by_unit")
    expect(ranking.locator(".sc-empty")).to_have_text("暂无数据", timeout=WAIT)
    expect(ranking.locator(".sc-age")).to_have_text(re.compile(r"^\d\d:\d\d 更新$"))
    page.context.close()
    assert log.unexpected_errors() == [], log.console_errors
