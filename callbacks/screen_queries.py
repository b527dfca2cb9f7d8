"""Socket.IO event `query` on /live: the answers of a screen's query-bound panels, on the page's own socket.

A panel that binds a named warehouse query (history, master data) has nothing to push: its answer
changes slowly. The page asks for its visible slide's queries after each snapshot and then every
minute or so, over the socket it already has (no second connection, no polling loop per panel). The
server never runs what the browser names: a query id (`name?param=value&...`, from the panel's data-spec)
is answered only when the screen's YAML has that binding under the screen's declared params (a playlist
slide may override their values), from a short Redis cache, so a hundred walls on one screen cost one
database query per CACHE_S.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask_socketio import SocketIO
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from auth import access
from callbacks.screen_topics import topic_name
from domain.calendar import default_calendar
from layouts.panels import query_bindings
from streams.push import NAMESPACE
from warehouse.panel_queries import QueryContext, run_query

log = logging.getLogger(__name__)

CACHE_S = 30
MAX_IDS = 64
_PARAM_VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")


def answers(engine: Engine, r: redis.Redis, screen: Any, ids: list[str], overrides: Mapping[str, Any], *,
            now: dt.datetime, tz: dt.tzinfo, lang: str) -> dict[str, dict[str, Any]]:
    """{query id: answer | {"error": ...}} for the query bindings `ids` of `screen` (ids as in its data-spec)."""
    params = {**screen.params, **{k: v for k, v in overrides.items()
                                  if k in screen.params and isinstance(v, str) and _PARAM_VALUE.match(v)}}
    known = query_bindings(screen, params)
    ctx = QueryContext(now=now, tz=tz, calendar=default_calendar(), lang=lang)
    out: dict[str, dict[str, Any]] = {}
    for qid in ids:
        if qid not in known:
            out[qid] = {"error": "no such query binding"}
            continue
        key = f"q:cache:{lang}:" + hashlib.sha1(qid.encode()).hexdigest()
        cached = r.get(key)
        if cached is not None:
            out[qid] = json.loads(cached)
            continue
        name, filled = known[qid]
        try:
            with engine.connect() as conn:
                answer = {**run_query(conn, name, filled, ctx), "t": int(now.timestamp() * 1000)}
        except SQLAlchemyError as exc:
            log.warning("query %s for %s failed: %s", name, screen.id, exc)
            out[qid] = {"error": "the warehouse did not answer"}
            continue
        r.set(key, json.dumps(answer), ex=CACHE_S)
        out[qid] = answer
    return out


def register_screen_queries(socketio: SocketIO, engine: Engine, r: redis.Redis,
                            screens: Callable[[], Mapping[str, Any]], principal: Callable[[], access.Principal],
                            tz: dt.tzinfo, *,
                            wall_topics: Callable[[str], frozenset[str]],
                            clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
    """`screens()`: the current screens by id (a hot reload swaps them); `principal()`: who sent the event."""

    @socketio.on("query", namespace=NAMESPACE)
    def query(data: Any) -> dict[str, Any]:
        who = principal()
        if not access.allows(access.SOCKET_EVENTS["query"], who):
            return {"error": "session ended"}
        if not (isinstance(data, dict) and isinstance(data.get("screen"), str) and isinstance(data.get("ids"), list)):
            return {"error": "query expects {screen, ids: [query id, ...], params?, lang?}"}
        screen = screens().get(data["screen"])
        topic = topic_name(data["screen"])
        if screen is None:
            return {"error": f"no screen {data['screen'][:40]!r}"}
        if not access.allows(access.topic_rule(topic) or "no rule", who) or (
                who.kind == "wall" and topic not in wall_topics(who.scope)):
            return {"error": "not allowed"}
        ids = [i for i in data["ids"] if isinstance(i, str)][:MAX_IDS]
        overrides = data.get("params") if isinstance(data.get("params"), dict) else {}
        lang = "en" if data.get("lang") == "en" else "zh"
        try:
            return {"answers": answers(engine, r, screen, ids, overrides, now=clock(), tz=tz, lang=lang)}
        except (redis.ConnectionError, redis.TimeoutError):
            return {"error": "live state unavailable"}
