"""The real product in a browser: `app.py run` on embedded Redis and SQLite, events XADDed by a
producer show on `/`, and a killed web process comes back with the page resyncing by itself."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from datasources.base import make_key
from datasources.canteen import schemas as canteen
from datasources.registry import schemas
from streams.codec import Codec
from streams.producer import Producer
from streams.redis_conn import connect
from tests.browser.conftest import REPO, SCREENS, PageLog

WAIT = 15_000


class RealApp:
    """`python app.py run` in its own session: kill -9 takes the web process and its workers,
    while the embedded Redis (its own session) survives, as it would a crashed web process."""

    def __init__(self, data: Path):
        self.data = data
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "DATA_DIR": str(data), "PORT": str(self.port), "SIMULATORS": "0",
                    "BACKFILL_DAYS": "0"}
        self.env.pop("REDIS_URL", None)
        self.env.pop("DATABASE_URL", None)

    def start(self) -> None:
        with (self.data / "app.log").open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "app.py", "run"], cwd=REPO, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.data / "app.log").read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    body = json.load(resp)
                    if body["ok"] and body.get("workers"):
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError):
                pass
            time.sleep(0.2)
        raise RuntimeError("app did not become healthy within 60 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop_redis(self) -> None:
        pid = self.data / "redis" / "redis.pid"
        if pid.exists():
            try:
                os.kill(int(pid.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cli(self, *args: str) -> str:
        """`python app.py ARGS` against this app's data (as an operator at the host would run it)."""
        out = subprocess.run([sys.executable, "app.py", *args], cwd=REPO, env=self.env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    def sign_in_viewer(self, page: Any, username: str = "viewer") -> None:
        """Create a leadership account and go through the first sign-in with its password change."""
        once = re.search(r"one-time password: (\S+)", self.cli("users", "add", username, "--role", "leadership"))
        assert once, "users add printed no password"
        page.goto(self.url + "/")
        expect(page).to_have_url(self.url + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", once.group(1))
        page.click("button[type=submit]")
        expect(page).to_have_url(self.url + "/account/password")
        page.fill("input[name=old]", once.group(1))
        page.fill("input[name=new]", "Lingdao!2026-qiang")
        page.fill("input[name=repeat]", "Lingdao!2026-qiang")
        page.click("button[type=submit]")
        expect(page).to_have_url(self.url + "/")

    def producer(self) -> Producer:
        return Producer(connect(f"unix://{self.data / 'redis' / 'redis.sock'}"), Codec(schemas().values()))


# requests refused, reset or cut short by a kill -9 of the web process (the socket's reconnects, /whoami, assets)
KILLED_WEB = r"Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|CONTENT_LENGTH_MISMATCH)"


@pytest.fixture
def real_app(tmp_path: Path) -> Iterator[RealApp]:
    app = RealApp(tmp_path)
    app.start()
    yield app
    app.kill()
    app.stop_redis()


def settlements(n: int, seq0: int) -> list[Any]:
    """Lunch payments at a canteen window now: each one is a meal on the screens' KPI cards."""
    from decimal import Decimal

    from datasources.canteen.schemas import CanteenSettlement, Dish

    now = dt.datetime.now(dt.UTC)
    dish = Dish(dish_id="D001", name="红烧肉", qty=1, price=Decimal("12.50"))
    return [CanteenSettlement(source="test.canteen", ts=now, key=make_key(now), seq=seq0 + i, txn_id=f"T{seq0 + i}",
                              person_id="P00001", unit_id="U01", canteen_id="CT1", window_id="CT1-W1", meal="lunch",
                              method="card", items=(dish,), amount=Decimal("12.50")) for i in range(n)]


def camera_events(n: int, seq0: int) -> list[Any]:
    now = dt.datetime.now(dt.UTC)
    return [canteen.CanteenCameraStatus(source="test.canteen", ts=now, key=make_key(now), seq=seq0 + i,
                                  camera_id="C-CT1-K1", canteen_id="CT1", online=True) for i in range(n)]


def test_live_page_counts_pushed_events_and_survives_a_web_crash(page_log: PageLog, real_app: RealApp) -> None:
    page_log.allow_console_error(r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/socket\.io/.*' failed")
    page_log.allow_console_error(KILLED_WEB)
    page = page_log.page
    real_app.sign_in_viewer(page)
    expect(page.locator("#lv-status")).to_have_text("已连接", timeout=WAIT)
    total = page.locator("#lv-card-canteen .lv-card-total")

    real_app.producer().submit(camera_events(5, 1))
    expect(total).to_have_text("5", timeout=WAIT)
    real_app.producer().submit(camera_events(1_995, 6))
    expect(total).to_have_text("2,000", timeout=WAIT)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "real_app_live.png"))

    real_app.kill()
    expect(page.locator("#lv-banner")).to_be_visible(timeout=WAIT)
    expect(page.locator("#live-overview")).to_have_class(re.compile(r"\bis-stale\b"))
    real_app.producer().submit(camera_events(3, 2_001))  # accepted while the web process is down
    real_app.start()
    expect(page.locator("#lv-status")).to_have_text("已连接", timeout=30_000)
    expect(total).to_have_text("2,003", timeout=WAIT)
    expect(page.locator("#live-overview")).not_to_have_class(re.compile(r"\bis-stale\b"))
    with urllib.request.urlopen(real_app.url + "/healthz", timeout=5) as resp:
        body = json.load(resp)
    assert resp.status == 200 and body["streams"]["ev:canteen"]["groups"][0]["pending"] == 0

    # disabling the account ends its session: the open socket closes and the page goes to sign-in
    page_log.allow_console_error(r"status of 401")  # the page asks /whoami and learns it is signed out
    real_app.cli("users", "disable", "viewer")
    ended = time.monotonic()
    expect(page).to_have_url(real_app.url + "/login", timeout=WAIT)
    assert time.monotonic() - ended < 5.0, "the live page outlived its session by more than 5 s"


def test_a_paired_wall_receives_masked_data_only_and_blanks_when_revoked(page_log: PageLog,
                                                                           real_app: RealApp) -> None:
    from analytics.masking import find_leaks
    from domain.compound import build_compound

    out = real_app.cli("token", "display", "--playlist", "leadership", "--label", "lobby")
    pair_url = re.search(r"(http://\S+/pair/\S+)", out).group(1)  # type: ignore[union-attr]
    token_id = re.search(r"display token (\w+)", out).group(1)  # type: ignore[union-attr]
    page = page_log.page
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(
        f if isinstance(f, str) else f.decode(errors="replace"))))
    page.goto(pair_url.replace("http://127.0.0.1:8050", real_app.url))
    expect(page).to_have_url(real_app.url + "/wall/leadership?kiosk=1")
    expect(page.locator('.sc-slide[data-screen="overview"]')).to_be_visible(timeout=WAIT)
    expect(page.locator(".sc-banner")).to_be_hidden(timeout=WAIT)
    real_app.producer().submit(settlements(5, 1))
    expect(page.locator("#overview--meals_today .sc-num")).to_have_text("5", timeout=WAIT)
    assert page.evaluate("document.cookie") == "", "the display cookie is HttpOnly"

    compound = build_compound(7)
    names = [p.name for p in compound.people] + [c.name for c in compound.children]
    seen = page.content() + "\n".join(frames)
    assert frames, "no Socket.IO frames were captured"
    assert find_leaks(seen, names) == [], "personal data reached a wall"

    page_log.allow_console_error(r"status of 401")
    # revoking closes the wall's socket on the server, cutting a long-poll response short (seen once in CI)
    page_log.allow_console_error(r"Failed to load resource: net::ERR_CONTENT_LENGTH_MISMATCH")
    real_app.cli("token", "revoke", token_id)
    revoked = time.monotonic()
    expect(page).to_have_url(real_app.url + "/wall-revoked", timeout=WAIT)
    assert time.monotonic() - revoked < 5.0, "a revoked wall kept showing data for more than 5 s"
    expect(page.locator("h2")).to_have_text("此显示终端的配对已撤销")
