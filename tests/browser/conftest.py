"""Browser-test fixtures: headless Debian Chromium via Playwright, a page that records what it loads,
and the test-only live server process (tests/browser/live_server.py) that a test can kill and restart.

Every page fails its test on a console error or on any request that leaves 127.0.0.1: the product
runs on an offline intranet, so a CDN script or font would be a broken page there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.fault.services import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
SCREENS = Path("/tmp/screens")

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


class LiveServer:
    """The test-only live server as a child process: start, kill -9 (a crashed web process), start again."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir / "server.log"

    def start(self, snapshot: dict[str, Any]) -> None:
        """Start on the same port with `snapshot`; returns once the page is served."""
        state = self.state_dir / "state.json"
        state.write_text(json.dumps({"snapshot": snapshot}), encoding="utf-8")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.browser.live_server", "--port", str(self.port), "--state", str(state)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"live server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError("live server did not answer within 20 s")

    def kill(self) -> None:
        """SIGKILL, like a crashed web process: sockets drop without a goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def update(self, message: dict[str, Any]) -> None:
        """Push one `update` message to the page's room."""
        req = urllib.request.Request(
            self.url + "/_test/update",
            data=json.dumps(message).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200


@dataclass
class PageLog:
    """What a page did: every request URL, requests that tried to leave 127.0.0.1, console errors."""

    page: Any
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    allowed_errors: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console_error(self, pattern: str) -> None:
        """Expect a console error in this test only (e.g. failed websocket while the server is down)."""
        self.allowed_errors.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.console_errors if not any(p.search(e) for p in self.allowed_errors)]


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def page_log(browser: Any) -> Iterator[PageLog]:
    """A fresh 1920x1080 page; the test fails if it logged a console error or asked for a non-local URL."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, service_workers="block")
    page = context.new_page()
    log = PageLog(page)

    def route(r: Any) -> None:
        url = r.request.url
        if _is_local(url):
            r.continue_()
        else:
            log.external.append(url)
            r.abort()

    context.route("**/*", route)
    page.on("request", lambda req: log.requests.append(req.url))
    page.on("websocket", lambda ws: log.requests.append(ws.url))
    page.on("console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: log.console_errors.append(f"uncaught: {exc}"))
    yield log
    context.close()
    assert not log.external, f"requests left 127.0.0.1: {log.external}"
    assert not [u for u in log.requests if not _is_local(u)], f"non-local URLs: {log.requests}"
    assert not log.unexpected_errors(), f"console errors: {log.unexpected_errors()}"
