"""The shipped font in headless Chromium on the real app: the overview's Chinese title and its KPI numbers
render in "CC Sans" (not in the CJK font this machine happens to have), the page fetches only the chunks its
text needs and nothing outside 127.0.0.1, the figures do not change width, a second load downloads no font
again, and the sign-in page (plain HTML from auth/) uses the font too."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENS, _is_local
from tests.browser.test_real_app import WAIT
from tests.browser.test_screens import app_signed_in, new_page  # noqa: F401 (app_signed_in is a fixture)
from tests.realapp import settlements

FONT_PATH = "/assets/vendor/fonts/"
INSIDE_FONT = "NotoSansSC-"  # PostScript names inside the shipped files; the machine's own is NotoSansCJKsc-
FIRST_LOAD_FONT_BUDGET = 512 * 1024  # bytes of woff2 for the overview's first load (measured: 333 KB)


class Network:
    """Bytes on the wire per request, from Chromium's own accounting (CDP), so a 304 counts as what it cost."""

    def __init__(self, page: Any) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.urls: dict[str, str] = {}
        self.status: dict[str, int] = {}
        self.size: dict[str, int] = {}
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        self.cdp.on("Network.responseReceived",
                    lambda e: self.status.__setitem__(e["requestId"], e["response"]["status"]))
        self.cdp.on("Network.loadingFinished",
                    lambda e: self.size.__setitem__(e["requestId"], int(e["encodedDataLength"])))

    def fonts(self) -> dict[str, tuple[int, int]]:
        """woff2 file name -> (HTTP status, bytes transferred) since the last `clear()`."""
        return {url.rsplit("/", 1)[1]: (self.status.get(rid, 0), self.size.get(rid, 0))
                for rid, url in self.urls.items() if url.split("?")[0].endswith(".woff2")}

    def clear(self) -> None:
        self.urls.clear()
        self.status.clear()
        self.size.clear()


def open_overview(page: Any, url: str) -> None:
    page.goto(f"{url}/screens/overview?kiosk=1")
    expect(page.locator('.sc-slide[data-screen="overview"]')).to_be_visible(timeout=WAIT)
    expect(page.locator(".sc-banner")).to_be_hidden(timeout=WAIT)
    page.evaluate("document.fonts.ready.then(() => true)")


def rendered_fonts(page: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium used to draw the text of `selector` (CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"{selector} not found"
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return fonts


def assert_drawn_in_cc_sans(page: Any, selector: str) -> None:
    fonts = rendered_fonts(page, selector)
    ours = [f for f in fonts if f["postScriptName"].startswith(INSIDE_FONT) and f["isCustomFont"]]
    assert fonts and ours == fonts, (selector, fonts)


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_the_overview_renders_in_cc_sans_from_its_own_chunks(app_signed_in: Any, browser: Any,  # noqa: F811
                                                             width: int, height: int) -> None:
    app, cookies = app_signed_in
    page, log = new_page(browser, cookies, width, height, 1)
    net = Network(page)
    open_overview(page, app.url)
    app.producer().submit(settlements(12, width))  # a two-digit KPI number
    num = page.locator("#overview--meals_today .sc-num")
    expect(num).not_to_have_text("—", timeout=WAIT)
    expect(num).not_to_have_text("0", timeout=WAIT)

    assert page.evaluate("""() => document.fonts.check('600 32px "CC Sans"', '机关事务综合态势')
                               && document.fonts.check('16px "CC Sans"', '今日就餐 人次 暂无数据 0123456789')""")
    assert_drawn_in_cc_sans(page, ".sc-title")
    assert_drawn_in_cc_sans(page, "#overview--meals_today .sc-num")
    assert_drawn_in_cc_sans(page, "#overview--meals_today .sc-unit")

    fonts = net.fonts()
    print(f"\n{width}x{height} first load: fonts {sorted(fonts)}, {sum(s for _, s in fonts.values()) / 1024:.0f} KB")
    assert all(url.startswith(app.url + FONT_PATH) for url in net.urls.values() if ".woff2" in url)
    assert {"cc-sans-400-core.woff2", "cc-sans-600-core.woff2"} <= set(fonts)
    assert sum(size for _, size in fonts.values()) <= FIRST_LOAD_FONT_BUDGET, fonts

    widths = page.evaluate("""() => {
        const num = document.querySelector('#overview--meals_today .sc-num');
        return [...'0123456789'].map(d => {
            const probe = num.cloneNode(false);
            probe.textContent = d.repeat(8);
            num.parentNode.appendChild(probe);
            const w = probe.getBoundingClientRect().width;
            probe.remove();
            return w;
        });
    }""")
    assert max(widths) - min(widths) < 0.01, f"figures of unequal width: {widths}"

    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"fonts_overview_{width}x{height}.png"))
    page.context.close()
    assert not log.external, f"requests left 127.0.0.1: {log.external}"
    assert log.unexpected_errors() == [], log.console_errors


def test_a_second_load_downloads_no_font_again(app_signed_in: Any, browser: Any) -> None:  # noqa: F811
    app, cookies = app_signed_in
    context = browser.new_context(viewport={"width": 1920, "height": 1080})  # no routing: it turns the cache off
    context.add_cookies(cookies)
    page = context.new_page()
    net = Network(page)
    open_overview(page, app.url)
    first = net.fonts()
    net.clear()
    open_overview(page, app.url)
    again = net.fonts()
    print(f"\nfonts, first load: {first}\nsecond load: {again}")
    assert set(again) <= set(first)
    assert all(size < 2048 for _, size in again.values()), again
    context.close()
    assert all(_is_local(url) for url in net.urls.values()), net.urls


def test_the_sign_in_page_uses_cc_sans(app_signed_in: Any, browser: Any) -> None:  # noqa: F811
    app, _ = app_signed_in
    page, log = new_page(browser, [], 1366, 768, 1)
    page.goto(app.url + "/login")
    expect(page.locator("input[name=username]")).to_be_visible(timeout=WAIT)
    page.evaluate("document.fonts.ready.then(() => true)")
    assert_drawn_in_cc_sans(page, ".au-card h2")
    assert_drawn_in_cc_sans(page, ".au-app")
    page.context.close()
    assert not log.external, f"requests left 127.0.0.1: {log.external}"
    assert log.unexpected_errors() == [], log.console_errors
