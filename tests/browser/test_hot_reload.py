"""Hot reload in headless Chromium on the real `app.py run` with SCREENS_DIR on a temporary copy of the screens:
an edited screen file changes an open screen within 5 s on the same socket, without reloading the page and
without any frame in which a KPI that had a value shows the placeholder; an edited playlist changes an open
wall's slides and dwell while it stays on the slide it was showing."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import REPO, PageLog
from tests.browser.test_real_app import WAIT
from tests.browser.test_screens import new_page
from tests.realapp import RealApp, settlements

RELOAD_S = 5.0  # the bound: an edited file shows on an open wall within this
PLACEHOLDER = "—"
LIVE_KIOSK = re.compile(r"^(?=.*\bsc-kiosk\b)(?=.*\bsc-st-connected\b)(?!.*\bsc-stale\b)")  # kiosk, connected

# Every animation frame: the KPIs' numbers as the browser is about to paint them. A KPI that has shown a number
# must never show the placeholder again (a blank flash), except `watch`, whose samples are kept for the test.
SAMPLER = """(watch) => {
  const filled = new Set();
  window.__blank = [];
  window.__watched = [];
  window.__frames = 0;
  window.__sampling = true;
  function frame() {
    if (!window.__sampling) { return; }
    window.__frames += 1;
    document.querySelectorAll('.sc-slide:not([hidden]) .sc-panel[data-type="kpi"]').forEach((p) => {
      const num = p.querySelector('.sc-num').textContent;
      if (p.id === watch) { window.__watched.push([p.querySelector('.sc-ptitle').textContent, num]); return; }
      if (num !== '""" + PLACEHOLDER + """') { filled.add(p.id); }
      else if (filled.has(p.id)) { window.__blank.push(p.id); }
    });
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
}"""


@pytest.fixture(scope="module")
def reloading_app(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[RealApp, list[dict], Path]]:
    """One real app serving a copy of the screens that the tests edit, and a signed-in leadership viewer."""
    data = tmp_path_factory.mktemp("reload")
    screens = data / "walls"
    shutil.copytree(REPO / "screens", screens, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    app = RealApp(data)
    app.env["SCREENS_DIR"] = str(screens)
    app.start()
    context = browser.new_context()
    app.sign_in_viewer(context.new_page(), "reload.viewer")
    cookies = context.cookies()
    context.close()
    yield app, cookies, screens
    app.kill()
    app.stop_redis()


def edit(path: Path, *pairs: tuple[str, str]) -> float:
    """Save the file with each (old, new) replaced, as an editor would; returns when it was saved."""
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return time.monotonic()


def open_live(browser: Any, cookies: list[dict], url: str) -> tuple[Any, PageLog, list[Any]]:
    page, log = new_page(browser, cookies, 1920, 1080, 1)
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws) if "/socket.io/" in ws.url else None)
    page.goto(url)
    expect(page.locator(".sc-slide").first).to_be_attached(timeout=WAIT)
    expect(page.locator("#sc-page")).to_have_class(LIVE_KIOSK, timeout=WAIT)
    page.evaluate("window.__marker = 1")  # gone if the page reloads
    return page, log, sockets


def test_an_edited_screen_updates_the_open_page_without_a_blank_flash(reloading_app: Any, browser: Any) -> None:
    app, cookies, screens = reloading_app
    page, log, sockets = open_live(browser, cookies, f"{app.url}/screens/overview?kiosk=1")
    app.producer().submit(settlements(7, 1))
    meals = page.locator("#overview--meals_today")
    visitors = page.locator("#overview--visitors_today")
    expect(meals.locator(".sc-num")).to_have_text("7", timeout=WAIT)
    page.evaluate(SAMPLER, "overview--visitors_today")

    saved = edit(screens / "overview.yaml",
                 ("{zh: 今日就餐, en: Meals today}", "{zh: 今日就餐（热更新）, en: Meals today}"),
                 ("{zh: 今日访客, en: Visitors today}", "{zh: 今日刷卡, en: Card payments}"),
                 ("bind: {live: passage.visitors}", "bind: {live: canteen.pay.card}"))
    expect(meals.locator(".sc-ptitle")).to_have_text("今日就餐（热更新）", timeout=RELOAD_S * 1000)
    shown_after = time.monotonic() - saved
    # a binding the page did not have: filled from a fresh snapshot of the new topic, never a made-up 0
    expect(visitors.locator(".sc-num")).to_have_text("7", timeout=WAIT)
    page.evaluate("window.__sampling = false")
    print(f"\nedited title shown {shown_after:.2f} s after the save; {page.evaluate('window.__frames')} frames sampled")

    assert shown_after < RELOAD_S
    assert page.evaluate("window.__frames") > 10, "the sampler ran"
    assert page.evaluate("window.__blank") == [], "a KPI with a known value showed the placeholder"
    new_binding = {num for title, num in page.evaluate("window.__watched") if title == "今日刷卡"}
    assert new_binding <= {PLACEHOLDER, "7"}, f"the new binding showed {new_binding} before its snapshot"
    assert meals.locator(".sc-num").inner_text() == "7"
    assert page.evaluate("window.__marker") == 1, "the page was not reloaded"
    assert len(sockets) == 1 and not sockets[0].is_closed(), "one socket, kept through the swap"
    expect(page.locator("#sc-page")).to_have_class(LIVE_KIOSK)

    app.producer().submit(settlements(2, 100))  # the worker pushes the new binding too
    expect(visitors.locator(".sc-num")).to_have_text("9", timeout=WAIT)
    expect(meals.locator(".sc-num")).to_have_text("9")
    page.context.close()
    assert log.unexpected_errors() == [], log.console_errors


def test_an_edited_playlist_updates_the_open_wall_and_keeps_its_place(reloading_app: Any, browser: Any) -> None:
    app, cookies, screens = reloading_app
    playlist = screens / "playlists" / "leadership.yaml"
    page, log, sockets = open_live(browser, cookies, f"{app.url}/wall/leadership?kiosk=1")
    first = page.locator('.sc-slide[data-screen="overview"]')
    expect(page.locator(".sc-slide")).to_have_count(6)
    expect(first).to_have_attribute("data-dwell", "60")

    saved = edit(playlist, ("{screen: overview, dwell_s: 60}", "{screen: overview, dwell_s: 5}"))
    expect(first).to_have_attribute("data-dwell", "5", timeout=RELOAD_S * 1000)
    print(f"\nnew dwell on the wall {time.monotonic() - saved:.2f} s after the save")
    canteen = page.locator('.sc-slide[data-screen="canteen"]')
    expect(canteen).to_be_visible(timeout=WAIT)  # rotated after the new, shorter dwell

    saved = edit(playlist, ("  - {screen: property, dwell_s: 30}\n", ""),
                 ("{screen: canteen, dwell_s: 30}", "{screen: canteen, dwell_s: 40}"))
    expect(page.locator(".sc-slide")).to_have_count(5, timeout=RELOAD_S * 1000)
    print(f"slide removed on the wall {time.monotonic() - saved:.2f} s after the save")
    expect(canteen).to_have_attribute("data-dwell", "40")
    expect(canteen).to_be_visible()
    assert page.locator(".sc-slide:visible").count() == 1, "still on the canteen slide, not back to the first"
    assert page.evaluate("window.__marker") == 1, "the page was not reloaded"
    assert len(sockets) == 1 and not sockets[0].is_closed(), "one socket, kept through both swaps"
    page.context.close()
    assert log.unexpected_errors() == [], log.console_errors
