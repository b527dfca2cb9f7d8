"""The overview screen built the conventional Dash way, as the baseline the push path is compared with:
a `dcc.Interval(interval=1000)` and one server callback that reads the live state from Redis every
second and returns every panel whole (plotly figures for the charts, texts for the numbers).

It reads exactly what a `screen:overview` subscriber gets (`streams.topics.snapshot` of the screen's
topic, from the same LiveState the worker writes) and builds one output per panel of
screens/overview.yaml: a KPI's number (plus its sparkline figure and comparison), the gauge, the trend
and the donut as `go.Figure`s, the alarm ticker's rows. One callback for all panels is the cheapest
conventional form (one request per client per second); `asof.title` carries the newest event time
shown (ms), which the pollers use to measure staleness. Bench-only code: served by Werkzeug's threaded
server, as `app.py web` is, without compression (flask-compress is not installed).

    python -m bench.baseline_interval_app --redis URL --port PORT
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from bench.push_stack import load_screens, register_screens
from bench.workload import TZ, load_workload
from streams.live_state import LiveState
from streams.redis_conn import connect

SCREEN = "overview"
TICK = "tick"
ASOF = "asof"


def _value(snap: dict[str, Any], key: str | None) -> float:
    if not key:
        return 0.0
    return float(snap["sums"].get(key, snap["levels"].get(key, 0.0)))


def _series_figure(snap: dict[str, Any], keys: list[tuple[str, str]], *, area: bool) -> go.Figure:
    fig = go.Figure()
    for label, key in keys:
        pts = snap["minute"].get(key) or []
        fig.add_trace(go.Scatter(x=[dt.datetime.fromtimestamp(t / 1000, TZ) for t, _ in pts], y=[v for _, v in pts],
                                 name=label, mode="lines", fill="tozeroy" if area else None))
    fig.update_layout(template="plotly_dark", margin={"l": 30, "r": 10, "t": 10, "b": 30}, height=300)
    return fig


def panel_outputs(panel: Any, snap: dict[str, Any], now: dt.datetime) -> list[Any]:
    """The whole content of one panel, as a conventional callback returns it every tick."""
    kind = panel.type
    if kind == "header":
        return [now.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")]
    if kind == "kpi":
        key = panel.bind.live
        v = _value(snap, key)
        if panel.per is not None:
            v = v / (_value(snap, panel.per.live) or 1.0)
        text = f"{v:,.{panel.format.decimals}f}" + (panel.unit or "")
        ref = snap["compare"].get(key, {})
        cmp_text = " ".join(f"{label}: {r['value'] or 0:,.0f}" for label, r in ref.items())
        spark = [_series_figure(snap, [(panel.title.zh, key)], area=False)] if panel.sparkline else []
        return [text, cmp_text, *spark]
    if kind == "gauge":
        return [go.Figure(go.Indicator(mode="gauge+number", value=_value(snap, panel.bind.live),
                                       gauge={"axis": {"range": [panel.min, panel.max]}},
                                       title={"text": panel.title.zh}))]
    if kind == "trend":
        return [_series_figure(snap, [(s.label.zh, s.bind.live) for s in panel.series], area=panel.style == "area")]
    if kind == "donut":
        return [go.Figure(go.Pie(labels=[s.label.zh for s in panel.slices],
                                 values=[_value(snap, s.bind.live) for s in panel.slices], hole=0.6))]
    if kind == "alarm_ticker":
        levels = sorted(snap["levels"].items(), key=lambda kv: -kv[1])[: panel.max_items]
        return [[html.Li(f"{k}: {v:,.0f}") for k, v in levels]]
    return []


def _outputs_of(panel: Any) -> list[Output]:
    pid = f"bl-{panel.id}"
    if panel.type == "kpi":
        spark = [Output(f"{pid}-spark", "figure")] if panel.sparkline else []
        return [Output(pid, "children"), Output(f"{pid}-cmp", "children"), *spark]
    if panel.type in ("gauge", "trend", "donut"):
        return [Output(pid, "figure")]
    if panel.type in ("header", "alarm_ticker"):
        return [Output(pid, "children")]
    return []


def _component(panel: Any) -> Any:
    pid = f"bl-{panel.id}"
    if panel.type == "kpi":
        spark = [dcc.Graph(id=f"{pid}-spark")] if panel.sparkline else []
        return html.Div([html.H4(panel.title.zh), html.Div(id=pid), html.Div(id=f"{pid}-cmp"), *spark])
    if panel.type in ("gauge", "trend", "donut"):
        return html.Div([html.H4(panel.title.zh), dcc.Graph(id=pid)])
    if panel.type == "alarm_ticker":
        return html.Ul(id=pid)
    return html.Div(id=pid)


def build_app(redis_url: str) -> Dash:
    from streams.topics import TOPICS, snapshot

    register_screens()
    screen = load_screens().screens[SCREEN]
    topic = TOPICS[f"screen:{SCREEN}"]
    live = LiveState(connect(redis_url), TZ)
    expect = load_workload("registry").expect()
    panels = [p for p in screen.panels if _outputs_of(p)]
    app = Dash(__name__, title="overview (dcc.Interval baseline)")
    app.layout = html.Div([dcc.Interval(id=TICK, interval=1000), html.Span(id=ASOF),
                           *(_component(p) for p in panels)])

    @app.callback([Output(ASOF, "title"), *(o for p in panels for o in _outputs_of(p))], Input(TICK, "n_intervals"))
    def refresh(_n: int | None) -> list[Any]:
        now = dt.datetime.now(dt.UTC)
        snap = snapshot(live, topic, now, expect)
        newest = max((s["last"] for s in snap["sources"].values()), default=0)
        return [str(newest), *(o for p in panels for o in panel_outputs(p, snap, now))]

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request, as `app.py web` runs
    build_app(args.redis).run(host="127.0.0.1", port=args.port, debug=False, threaded=True)


if __name__ == "__main__":
    main()
