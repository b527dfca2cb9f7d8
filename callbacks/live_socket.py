"""Socket.IO namespace /live: topic subscriptions with a snapshot on every (re)subscribe.

A page subscribes on connect and again after every reconnect; the snapshot it gets back
is its resync, so it never shows numbers from before an outage as current.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask_socketio import SocketIO, join_room

from streams.live_state import LiveState
from streams.push import NAMESPACE, room_of
from streams.topics import TOPICS, snapshot

log = logging.getLogger(__name__)

MAX_TOPICS = 16


def register_live_socket(socketio: SocketIO, live: LiveState, expect: Mapping[str, float],
                         clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
    @socketio.on("subscribe", namespace=NAMESPACE)
    def subscribe(data: Any) -> dict[str, Any]:
        topics = data.get("topics") if isinstance(data, dict) else None
        if not isinstance(topics, list) or not topics or len(topics) > MAX_TOPICS:
            return {"error": "subscribe expects {topics: [name, ...]}"}
        unknown = [t for t in topics if not isinstance(t, str) or t not in TOPICS]
        if unknown:
            return {"error": f"unknown topics: {unknown[:5]}"}
        for t in topics:  # join first: an update between the read and the join would be lost
            join_room(room_of(t))
        try:
            snaps = {t: snapshot(live, TOPICS[t], clock(), expect) for t in topics}
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("snapshot failed: %s", exc)
            return {"error": "live state unavailable"}
        return snaps[topics[0]] if len(topics) == 1 else {"snapshots": snaps}
