"""The live overview page in headless Chromium against the test-only live server.

Server time is pinned by the test three hours behind the browser's clock: if the page measured
lateness against its own clock every card would read "late 180 min", so a fresh card proves it
uses server time. Times are pinned to the middle of a minute so "last minute" is exact.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENS, LiveServer, PageLog
from tests.browser.live_server import SYSTEMS

MIN = 60_000
TZ = dt.timezone(dt.timedelta(minutes=480))
WAIT = 10_000  # ms, generous DOM waits on a shared 2-core box

pytestmark = pytest.mark.browser


def _t0() -> int:
    """Server 'now': three hours behind the browser, 30 s into a minute."""
    minute = (int(time.time() * 1000) - 3 * 3600 * 1000) // MIN * MIN
    return minute + 30_000


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, TZ).strftime("%Y%m%d")


def _hms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, TZ).strftime("%H:%M:%S")


def _snapshot(t: int, canteen_total: float = 1_234_567) -> dict[str, Any]:
    """Every system has a total and a fresh source, except energy (25 min silent) and rooms (no source)."""
    cur = t // MIN * MIN
    sums = {f"{name}.events": float(1000 * (i + 1)) for i, (name, *_rest) in enumerate(SYSTEMS)}
    sums["canteen.events"] = canteen_total
    minute = {f"{name}.events": [[cur - k * MIN, 10] for k in range(1, 60)] for name, *_ in SYSTEMS}
    minute["canteen.events"].append([cur, 37])
    minute["canteen.events"][0] = [cur - MIN, 20]
    sources = {f"sim.{name}": {"system": name, "last": t - 5_000} for name, *_ in SYSTEMS if name != "rooms"}
    sources["sim.energy"]["last"] = t - 25 * MIN
    return {
        "t": t,
        "tz_offset_min": 480,
        "day": _day(t),
        "sums": {**sums, "canteen.revenue": 99.5},
        "levels": {"passage.on_site": 1830.0},
        "lasts": {},
        "minute": minute,
        "sources": sources,
        "expect": {name: interval for name, _zh, _en, interval in SYSTEMS},
    }


def _card(page: Any, system: str, part: str) -> Any:
    return page.locator(f"#lv-card-{system} .lv-card-{part}")


def _chart(page: Any) -> dict[str, list[float]] | None:
    return page.evaluate(
        """() => {
          const gd = document.querySelector('#lv-rate-chart .js-plotly-plot');
          if (!gd || !gd.data || !gd.data[0] || !gd.data[0].x) return null;
          return {x: Array.from(gd.data[0].x), y: Array.from(gd.data[0].y)};
        }"""
    )


def _wait_chart_point(page: Any, minute_ms: int, value: float) -> None:
    """Wait until the chart's point for `minute_ms` (shown in UTC+8 wall time) has `value`."""
    page.wait_for_function(
        """([x, y]) => {
          const gd = document.querySelector('#lv-rate-chart .js-plotly-plot');
          if (!gd || !gd.data || !gd.data[0] || !gd.data[0].x) return false;
          const i = Array.from(gd.data[0].x).indexOf(x);
          return i >= 0 && gd.data[0].y[i] === y;
        }""",
        arg=[minute_ms + 480 * MIN, value],
        timeout=WAIT,
    )


def _open(page_log: PageLog, server: LiveServer, query: str = "") -> Any:
    page = page_log.page
    page.goto(server.url + "/" + query)
    expect(page.locator("#lv-status")).to_have_class(re.compile(r"\bis-connected\b"), timeout=WAIT)
    return page


def test_snapshot_fills_cards_chart_and_freshness(page_log: PageLog, live_server: LiveServer) -> None:
    t0 = _t0()
    live_server.start(_snapshot(t0))
    page = _open(page_log, live_server)

    expect(page.locator("#lv-status")).to_have_text("已连接")
    expect(page.locator("#live-overview")).not_to_have_class(re.compile(r"\bis-stale\b"))
    expect(page.locator("#lv-banner")).to_be_hidden()
    expect(_card(page, "canteen", "title")).to_have_text("智慧餐厅")
    expect(_card(page, "canteen", "total")).to_have_text("1,234,567")
    expect(_card(page, "onecard", "total")).to_have_text("2,000")
    # current bucket 37 + half of the previous minute's 20 (server time is 30 s into the minute)
    expect(_card(page, "canteen", "minute")).to_have_text("47")
    expect(_card(page, "canteen", "last")).to_have_text(_hms(t0 - 5_000))
    expect(_card(page, "canteen", "state")).to_be_hidden()
    expect(_card(page, "energy", "state")).to_have_text("数据延迟 25 分钟")
    expect(page.locator("#lv-card-energy")).to_have_class(re.compile(r"\bis-late\b"))
    expect(_card(page, "rooms", "state")).to_have_text("暂无数据")
    expect(_card(page, "rooms", "last")).to_have_text("—")

    cur = t0 // MIN * MIN
    _wait_chart_point(page, cur - MIN, 20 + 10 * (len(SYSTEMS) - 1))
    chart = _chart(page)
    assert chart is not None and len(chart["x"]) == 60
    assert chart["x"][-1] == cur + 480 * MIN and chart["y"][-1] == 37
    # websocket from the first byte: no long-polling handshake (STACK.md trap)
    assert [u for u in page_log.requests if "transport=websocket" in u]
    assert not [u for u in page_log.requests if "transport=polling" in u]


def test_updates_change_counters_and_extend_chart(page_log: PageLog, live_server: LiveServer) -> None:
    t0 = _t0()
    live_server.start(_snapshot(t0))
    page = _open(page_log, live_server)
    expect(_card(page, "canteen", "total")).to_have_text("1,234,567")

    t1 = t0 + MIN  # the next minute: the chart gains a point for it
    m1 = t1 // MIN * MIN
    live_server.update({"t": t1, "sums": {"canteen.events": 1_234_570.0}, "minute": {"canteen.events": [[m1, 3]]}})
    expect(_card(page, "canteen", "total")).to_have_text("1,234,570")
    _wait_chart_point(page, m1, 3)
    chart = _chart(page)
    assert chart is not None and len(chart["x"]) == 60 and chart["x"][-1] == m1 + 480 * MIN

    # dcc.Graph resizes the plot with the window; the pushed data must survive that
    page.set_viewport_size({"width": 1366, "height": 768})
    page.wait_for_timeout(500)
    chart = _chart(page)
    assert chart is not None and chart["y"][-1] == 3

    # minute buckets are absolute: a second value for the same minute replaces the first
    live_server.update({"t": t1 + 1_000, "minute": {"canteen.events": [[m1, 9]]}})
    _wait_chart_point(page, m1, 9)
    expect(_card(page, "onecard", "total")).to_have_text("2,000")

    # midnight: a new day resets the totals that the message does not carry
    live_server.update({"t": t1 + 2_000, "day": "29991231", "sums": {"canteen.events": 4.0}})
    expect(_card(page, "canteen", "total")).to_have_text("4")
    expect(_card(page, "onecard", "total")).to_have_text("0")


def test_an_update_older_than_the_snapshot_is_dropped(page_log: PageLog, live_server: LiveServer) -> None:
    """`v` orders messages, not `t`: an update read from a state older than the page's snapshot (whatever its
    `t`) carries nothing the snapshot lacks and must not bring back an older number (streams/topics.py)."""
    t0 = _t0()
    live_server.start({**_snapshot(t0), "v": 100})
    page = _open(page_log, live_server)
    expect(_card(page, "canteen", "total")).to_have_text("1,234,567")
    live_server.update({"v": 99, "t": t0 + 1_000, "sums": {"canteen.events": 1_234_000.0}})
    live_server.update({"v": 101, "t": t0 + 2_000, "sums": {"onecard.events": 2_345.0}})
    expect(_card(page, "onecard", "total")).to_have_text("2,345")  # one socket: the older one came first
    expect(_card(page, "canteen", "total")).to_have_text("1,234,567")
    # two consumers' pushers: a newer update may overtake an older one; the older value must not win
    live_server.update({"v": 103, "t": t0 + 3_000, "sums": {"canteen.events": 1_234_600.0}})
    live_server.update({"v": 102, "t": t0 + 4_000, "sums": {"canteen.events": 1_234_590.0}})
    live_server.update({"v": 104, "t": t0 + 5_000, "sums": {"onecard.events": 2_400.0}})
    expect(_card(page, "onecard", "total")).to_have_text("2,400")
    expect(_card(page, "canteen", "total")).to_have_text("1,234,600")


def test_server_restart_shows_lost_then_resyncs(page_log: PageLog, live_server: LiveServer) -> None:
    page_log.allow_console_error(r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/socket\.io/.*' failed")
    t0 = _t0()
    live_server.start(_snapshot(t0))
    page = _open(page_log, live_server)
    expect(_card(page, "canteen", "total")).to_have_text("1,234,567")

    live_server.kill()
    banner = page.locator("#lv-banner")
    expect(banner).to_be_visible(timeout=WAIT)
    expect(banner).to_have_text(re.compile(r"^连接中断 \d+ 秒 · "))
    expect(page.locator("#lv-status")).to_have_class(re.compile(r"\bis-lost\b"))
    expect(page.locator("#live-overview")).to_have_class(re.compile(r"\bis-stale\b"))
    expect(banner).to_have_text(re.compile(r"^连接中断 [2-9] 秒"), timeout=WAIT)  # the duration runs
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "live_overview_zh_1920x1080_lost.png"))

    live_server.start(_snapshot(_t0(), canteen_total=2_000_000))
    expect(page.locator("#lv-status")).to_have_text("已连接", timeout=20_000)
    expect(_card(page, "canteen", "total")).to_have_text("2,000,000")
    expect(banner).to_be_hidden()
    expect(page.locator("#live-overview")).not_to_have_class(re.compile(r"\bis-stale\b"))


def test_english_page(page_log: PageLog, live_server: LiveServer) -> None:
    live_server.start(_snapshot(_t0()))
    page = _open(page_log, live_server, "?lang=en")
    expect(page.locator(".lv-title")).to_have_text("Smart Government Offices · Live data overview")
    expect(page.locator("#lv-status")).to_have_text("Connected")
    expect(_card(page, "canteen", "title")).to_have_text("Canteen")
    expect(_card(page, "energy", "state")).to_have_text("late 25 min")


def test_external_request_is_caught(page_log: PageLog, live_server: LiveServer) -> None:
    """Negative control: the fixture really notices a request that leaves the machine."""
    live_server.start(_snapshot(_t0()))
    page = _open(page_log, live_server)
    page.evaluate("() => fetch('https://cdn.example.com/x.js').catch(() => null)")
    page.wait_for_timeout(500)
    assert page_log.external == ["https://cdn.example.com/x.js"]
    page_log.external.clear()
    page_log.requests.remove("https://cdn.example.com/x.js")
    page_log.console_errors.clear()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("width,height", [(1920, 1080), (1366, 768)])
def test_fits_screen_without_overflow(page_log: PageLog, live_server: LiveServer, lang: str, width: int,
                                      height: int) -> None:
    t0 = _t0()
    snap = _snapshot(t0, canteen_total=12_345_678)
    snap["sources"]["sim.vehicles"]["last"] = t0 - 125 * MIN  # a three-digit "late" label
    live_server.start(snap)
    page = page_log.page
    page.set_viewport_size({"width": width, "height": height})
    _open(page_log, live_server, f"?lang={lang}")
    _wait_chart_point(page, t0 // MIN * MIN, 37)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"live_overview_{lang}_{width}x{height}.png"))

    overflow = page.evaluate(
        """() => {
          const bad = [];
          const doc = document.documentElement;
          if (doc.scrollWidth > innerWidth || doc.scrollHeight > innerHeight) bad.push('page scrolls');
          for (const el of document.querySelectorAll('#live-overview *')) {
            if (el.closest('.js-plotly-plot') || el.offsetParent === null) continue;
            if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
              bad.push((el.className || el.tagName) + ': ' + el.textContent.slice(0, 40));
          }
          const chart = document.querySelector('#lv-rate-chart').getBoundingClientRect();
          if (chart.height < 200 || chart.bottom > innerHeight) bad.push('chart ' + chart.height);
          return bad;
        }"""
    )
    assert overflow == []
