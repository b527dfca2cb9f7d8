"""TEST-ONLY stand-in for the real app: serves the live overview page and fakes the `/live` push contract.

It exists so the page can be proven in a browser before `python app.py run` exists. It runs as its
own process (`python -m tests.browser.live_server --port P --state FILE`) so a test can kill -9 it
and start it again on the same port, which is what a wall sees when the web process restarts.

Data comes from the test, never from Redis:
- the state file (JSON) holds `snapshot`, the contract's snapshot keys minus `topic`;
- `POST /_test/update` with a partial update (without `topic`) emits it to the `overview` room.
Either may carry `t` (server epoch ms) so a test can pin "server time" far from the browser's clock;
without it the server stamps its own time, as the real server does. Either may carry `v`, the live state's
version; without it every message gets the next number, so an update is newer than the snapshots before it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import dash
from flask import request
from flask_socketio import SocketIO, join_room

from layouts.live_overview import layout

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TOPIC = "overview"

# (name, title_zh, title_en, expected_interval_s), as the app will pass from datasources.registry.
SYSTEMS: list[tuple[str, str, str, float]] = [
    ("canteen", "智慧餐厅", "Canteen", 60),
    ("onecard", "一卡通", "One-card", 60),
    ("passage", "智慧通行", "Passage", 60),
    ("vehicles", "公务用车", "Official vehicles", 120),
    ("energy", "智慧节能", "Energy", 1200),
    ("ba", "楼宇自控", "Building automation", 300),
    ("security", "智能安防", "Security", 300),
    ("property", "智慧物业", "Property", 900),
    ("rooms", "智慧房产", "Office rooms", 3600),
    ("kindergarten", "机关幼儿园", "Kindergarten", 600),
]


def create_app(state: dict[str, Any]) -> tuple[dash.Dash, SocketIO]:
    """Build the Dash app (page at `/`, `?lang=en` honoured) and the Socket.IO server over `state`."""
    app = dash.Dash(__name__, use_pages=True, pages_folder="", assets_folder=str(ASSETS), title="live overview")
    dash.register_page("live_overview", path="/", layout=lambda lang="zh", **_query: layout(lang, SYSTEMS))
    app.layout = dash.page_container

    versions = itertools.count(1)

    def stamped(message: dict[str, Any]) -> dict[str, Any]:
        return {"t": int(time.time() * 1000), "v": next(versions), **message, "topic": TOPIC}

    socketio = SocketIO(app.server, async_mode="threading", max_http_buffer_size=64 * 1024)

    @socketio.on("subscribe", namespace="/live")
    def subscribe(data: dict[str, Any]) -> dict[str, Any]:
        if TOPIC not in (data or {}).get("topics", []):
            return {"error": "unknown topic"}
        join_room(TOPIC)
        return stamped(state["snapshot"])

    @app.server.post("/_test/update")
    def push_update() -> dict[str, bool]:
        socketio.emit("update", stamped(request.get_json()), to=TOPIC, namespace="/live")
        return {"ok": True}

    return app, socketio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    app, socketio = create_app(json.loads(args.state.read_text(encoding="utf-8")))
    socketio.run(app.server, host="127.0.0.1", port=args.port, allow_unsafe_werkzeug=True, log_output=False)


if __name__ == "__main__":
    main()
