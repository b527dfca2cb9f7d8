"""A screen's topic end to end on the real Redis: simulated lunch events applied to live state, the pusher
sends one update to the screen's room with the bound KPIs, and the subscriber's snapshot has them too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

import analytics.metrics  # noqa: F401 - registers the metric catalogue
from analytics.deltas import fold, metrics
from callbacks.screen_topics import screen_topic
from datasources.registry import SYSTEMS
from domain.calendar import default_calendar
from domain.compound import build_compound
from screens.loader import Catalogue, load_all
from streams.live_state import LiveState
from streams.push import Pusher, room_of
from streams.topics import TOPICS, register_topic, snapshot
from warehouse.panel_queries import NAMED_QUERIES

TZ = ZoneInfo("Asia/Shanghai")
LUNCH = dt.datetime(2026, 11, 25, 11, 45, tzinfo=TZ)  # a Wednesday, a working day


def test_the_canteen_screen_gets_its_kpis_pushed(r: redis.Redis) -> None:
    lib = load_all(Path(__file__).resolve().parents[2] / "screens", Catalogue(metrics(), NAMED_QUERIES))
    topic = screen_topic(lib.screens["canteen"], {n: i.kind for n, i in metrics().items()})
    register_topic(topic)
    sim = SYSTEMS["canteen"].make_simulator(build_compound(7), default_calendar(), seed=3, tz=TZ)
    evs = list(sim.events_between(LUNCH, LUNCH + dt.timedelta(minutes=10)))
    meals = sum(1 for e in evs if e.schema_name().startswith("canteen.settlement"))
    assert meals > 50, "a lunch peak on a working day"

    live = LiveState(r, TZ)
    wire = fold(evs, TZ).to_wire()
    live.apply("lunch", wire)
    sent: list[tuple[str, dict, str]] = []
    now = LUNCH + dt.timedelta(minutes=10)
    pusher = Pusher(live, lambda event, data, room: sent.append((event, data, room)), clock=lambda: now,
                    chart_interval=0.0)
    pusher.note(wire)
    assert pusher.flush() >= 1
    mine = [data for event, data, room in sent if room == room_of("screen:canteen")]
    assert len(mine) == 1, "one combined message per room per flush"
    assert mine[0]["sums"]["canteen.meals"] == meals
    assert "canteen.meals" in mine[0]["minute"], "the meals trend gets its minute points"
    assert not any(m.startswith("energy.") for m in mine[0]["sums"]), "only what the screen binds"

    snap = snapshot(live, TOPICS["screen:canteen"], now, {"canteen": 60})
    assert snap["topic"] == "screen:canteen" and snap["sums"]["canteen.meals"] == meals
