"""A screen on the real `app.py run` through a web crash and a silent source: it says the connection is lost and
for how long, resyncs before it shows numbers again (events accepted during the outage included), and a panel
whose source has been silent past its expected interval says how late it is instead of passing as current."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from datasources.base import make_key
from datasources.energy.schemas import EnergyReading
from tests.browser.conftest import PageLog
from tests.browser.test_real_app import KILLED_WEB, WAIT, real_app  # noqa: F401 - real_app is a fixture
from tests.realapp import RealApp, settlements


def reading(at: dt.datetime, seq: int) -> EnergyReading:
    return EnergyReading(source="test.energy", ts=at, key=make_key(at), seq=seq, meter_id="M-B01-1-E",
                         building_id="B01", floor=1, kind="electricity", unit="kWh", reading=1000.0 + seq, delta=5.0)


def test_a_screen_survives_a_web_crash_and_resyncs(page_log: PageLog, real_app: RealApp) -> None:  # noqa: F811
    page_log.allow_console_error(r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/socket\.io/.*' failed")
    page_log.allow_console_error(KILLED_WEB)
    page = page_log.page
    real_app.sign_in_viewer(page, "resilience.viewer")
    page.goto(f"{real_app.url}/screens/canteen?kiosk=1")
    num = page.locator('.sc-panel[data-panel="meals_today"] .sc-num')
    banner = page.locator(".sc-banner")
    real_app.producer().submit(settlements(4, 1))
    expect(num).to_have_text("4", timeout=WAIT)
    expect(banner).to_be_hidden()

    real_app.kill()
    expect(banner).to_be_visible(timeout=WAIT)
    expect(banner).to_have_text(re.compile(r"^连接中断 \d+ 秒$"))
    real_app.producer().submit(settlements(3, 5))  # accepted while the web process is down
    real_app.start()
    expect(banner).to_be_hidden(timeout=30_000)
    expect(num).to_have_text("7", timeout=WAIT)


def test_a_silent_source_shows_how_late_it_is(page_log: PageLog, real_app: RealApp) -> None:  # noqa: F811
    page = page_log.page
    real_app.sign_in_viewer(page, "late.viewer")
    page.goto(f"{real_app.url}/screens/energy?kiosk=1")
    panel = page.locator('.sc-panel[data-panel="electricity_today"]')
    now = dt.datetime.now(dt.UTC)
    real_app.producer().submit([reading(now - dt.timedelta(minutes=30), 1)])  # expected every 20 min
    expect(panel.locator(".sc-age")).to_have_text(re.compile(r"^数据延迟 (30|31) 分钟$"), timeout=WAIT)
    expect(panel).to_have_class(re.compile(r"\bsc-late\b"))
    real_app.producer().submit([reading(now, 2)])
    expect(panel.locator(".sc-age")).to_have_text(re.compile(r"^\d\d:\d\d 更新$"), timeout=WAIT)
    expect(panel).not_to_have_class(re.compile(r"\bsc-late\b"))
