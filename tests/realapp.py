"""The real product as a child process, shared by the browser tests, the fault tests and the benches.

`RealApp` runs `python app.py run` (embedded Redis, SQLite warehouse, a worker, the web process) on a temp
data dir with the simulators off, so every number on a screen comes from events a test produced. It signs
people in (through a browser page, or over plain HTTP for clients that are not browsers), kills the app
with kill -9 and starts it again on the same port and data. The event factories below produce what the
screens count: canteen settlements (meals), canteen camera reports and security alarms.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from datasources.base import make_key
from datasources.canteen.schemas import CanteenCameraStatus, CanteenSettlement, Dish
from datasources.registry import schemas
from datasources.security import SecurityAlarm
from streams.codec import Codec
from streams.producer import Producer
from streams.redis_conn import connect
from tests.fault.services import free_port

REPO = Path(__file__).resolve().parents[1]
NEW_PASSWORD = "Lingdao!2026-qiang"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


class RealApp:
    """`python app.py run` in its own session: kill -9 takes the web process and its workers,
    while the embedded Redis (its own session) survives, as it would a crashed web process."""

    def __init__(self, data: Path):
        self.data = data
        self.port = free_port()
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

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM to `app.py run` alone, as a service manager stops it; its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

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

    def add_user(self, username: str, role: str = "leadership") -> str:
        """Create an account as the operator does; returns its one-time password."""
        once = re.search(r"one-time password: (\S+)", self.cli("users", "add", username, "--role", role))
        assert once, "users add printed no password"
        return once.group(1)

    def sign_in_viewer(self, page: Any, username: str = "viewer") -> None:
        """Create a leadership account and go through the first sign-in with its password change."""
        from playwright.sync_api import expect

        once = self.add_user(username)
        page.goto(self.url + "/")
        expect(page).to_have_url(self.url + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", once)
        page.click("button[type=submit]")
        expect(page).to_have_url(self.url + "/account/password")
        page.fill("input[name=old]", once)
        page.fill("input[name=new]", NEW_PASSWORD)
        page.fill("input[name=repeat]", NEW_PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(self.url + "/")

    def sign_in(self, username: str = "viewer") -> str:
        """The same first sign-in over plain HTTP (the login form, then the forced password change), for
        clients that are not browsers; returns the Cookie header of the signed-in session."""
        import requests

        once = self.add_user(username)
        with requests.Session() as http:
            form = http.get(self.url + "/login", timeout=30)
            resp = http.post(self.url + "/login", timeout=60, data={
                "username": username, "password": once, "csrf": _csrf_of(form.text)})
            assert resp.url == self.url + "/account/password", f"sign-in ended at {resp.url} ({resp.status_code})"
            resp = http.post(self.url + "/account/password", timeout=60, data={
                "old": once, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD, "csrf": _csrf_of(resp.text)})
            assert resp.url == self.url + "/", f"the password change ended at {resp.url} ({resp.status_code})"
            sid = http.cookies.get("cc_session")
        assert sid, "no session cookie after sign-in"
        return f"cc_session={sid}"

    def redis_url(self) -> str:
        return f"unix://{self.data / 'redis' / 'redis.sock'}"

    def producer(self) -> Producer:
        return Producer(connect(self.redis_url()), Codec(schemas().values()))


def _csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the form carries no csrf field"
    return found.group(1)


@contextlib.contextmanager
def running_app(data: Path) -> Iterator[RealApp]:
    """A started RealApp, killed (with its embedded Redis) afterwards, failing or not."""
    app = RealApp(data)
    try:
        app.start()
        yield app
    finally:
        app.kill()
        app.stop_redis()


def settlements(n: int, seq0: int) -> list[Any]:
    """Lunch payments at a canteen window now: each one is a meal on the screens' KPI cards."""
    now = dt.datetime.now(dt.UTC)
    dish = Dish(dish_id="D001", name="红烧肉", qty=1, price=Decimal("12.50"))
    return [CanteenSettlement(source="test.canteen", ts=now, key=make_key(now), seq=seq0 + i, txn_id=f"T{seq0 + i}",
                              person_id="P00001", unit_id="U01", canteen_id="CT1", window_id="CT1-W1", meal="lunch",
                              method="card", items=(dish,), amount=Decimal("12.50")) for i in range(n)]


def camera_events(n: int, seq0: int) -> list[Any]:
    now = dt.datetime.now(dt.UTC)
    return [CanteenCameraStatus(source="test.canteen", ts=now, key=make_key(now), seq=seq0 + i,
                                camera_id="C-CT1-K1", canteen_id="CT1", online=True) for i in range(n)]


ALARM_KINDS = (("intrusion", "high"), ("loitering", "low"), ("fence_breach", "critical"), ("fire", "critical"),
               ("intrusion", "medium"))


def security_alarms(n: int, seq0: int) -> list[SecurityAlarm]:
    """Alarms raised now, cycling through ALARM_KINDS by sequence number (so a test knows each one's type and
    severity from its seq); none is acknowledged or closed, so each stays open and unacknowledged."""
    now = dt.datetime.now(dt.UTC)
    out = []
    for seq in range(seq0, seq0 + n):
        kind, severity = ALARM_KINDS[seq % len(ALARM_KINDS)]
        out.append(SecurityAlarm(source="test.security", ts=now, key=make_key(now), seq=seq, alarm_id=f"AL{seq:08d}",
                                 alarm_type=kind, severity=severity, device_id="CAM-B01-1", zone="north gate",
                                 building_id="B01", floor=1))
    return out
