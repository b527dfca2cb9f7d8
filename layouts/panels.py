"""Panel renderers of the big screens: one pure function per panel type, registered once by type.

Each panel becomes a static `<section class="sc-panel">` whose numbers start as "—"; `assets/screen.js`
fills them in from the screen's Socket.IO topic. What the script needs to know about a panel (concrete
metric keys, their kinds, format, thresholds, freshness) travels as the JSON `data-spec` attribute, so the
browser never re-reads the YAML. The DOM shape is fixed by the contract shared with screen.js.

Dash has no `<svg>` component, so a chart surface is a `div.sc-svg` host carrying the svg's class,
viewBox and preserveAspectRatio as data attributes; screen.js creates the `<svg>` inside it once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dash import html
from dash.development.base_component import Component

from screens.model import (
    FAMILY_PANELS,
    PANEL_TYPES,
    AlarmTickerPanel,
    Binding,
    DonutPanel,
    EventTablePanel,
    GaugePanel,
    HeaderPanel,
    HeatmapPanel,
    KpiPanel,
    Localized,
    MapPanel,
    PanelBase,
    RankingPanel,
    TrendPanel,
)
from screens.rules import kind_of
from layouts.i18n import normalize_lang
from layouts.screen_i18n import st

PLACEHOLDER = "—"
_PLACEHOLDER_RX = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# Open alarms by severity, most severe first; the same keys callbacks.screen_topics.ALARM_LEVELS pushes
# (layouts may not import callbacks, so the prefix is repeated here and a test keeps the two in step).
ALARM_PREFIX = "security.open."
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class RenderContext:
    """What a renderer may depend on besides the panel: language, params after slide overrides, metric kinds, and
    the display names of family members in that language ({placeholder: {id: name}}, from the master data)."""

    lang: str = "zh"
    params: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def text(self, label: Localized) -> str:
        return label.en if normalize_lang(self.lang) == "en" else label.zh


Body = Callable[[Any, RenderContext], list[Component]]
Extras = Callable[[Any, RenderContext], dict[str, Any]]


@dataclass(frozen=True)
class Renderer:
    """A panel type's body builder and the type-specific keys it adds to `data-spec`."""

    body: Body
    extras: Extras


RENDERERS: dict[str, Renderer] = {}


def _no_extras(panel: Any, ctx: RenderContext) -> dict[str, Any]:
    return {}


def renderer(panel_type: str, *, extras: Extras = _no_extras) -> Callable[[Body], Body]:
    """Register the body of `panel_type`; a second registration is a bug (two modules fighting over a type)."""

    def register(fn: Body) -> Body:
        if panel_type not in PANEL_TYPES:
            raise ValueError(f"unknown panel type {panel_type!r}; known types: {', '.join(PANEL_TYPES)}")
        if panel_type in RENDERERS:
            raise ValueError(f"panel type {panel_type!r} already has a renderer")
        RENDERERS[panel_type] = Renderer(fn, extras)
        return fn

    return register


# ---- bindings -> spec ------------------------------------------------------------------------------------


def _fill(text: str, params: Mapping[str, str], glob: bool) -> str:
    """Put param values into `{name}` placeholders; with `glob`, the ones left over become `*`."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) in params:
            return str(params[m.group(1)])
        return "*" if glob else m.group(0)

    return _PLACEHOLDER_RX.sub(one, text)


def bind_spec(binding: Binding, ctx: RenderContext, *, family: bool = False) -> dict[str, Any]:
    """One binding as the script reads it: a concrete key (or family glob) with its kind, or a named query.

    Family panels (ranking, heatmap) list every member, so their placeholders always become `*` even when
    the screen has a param of that name (energy's `{building}` picks one card, not the ranking's rows).
    """
    if binding.query is not None:
        params = _query_params(binding, ctx.params)
        return {"query": binding.query, "params": params, "qid": query_id(binding.query, params)}
    key = binding.live or ""
    filled = key if family else _fill(key, ctx.params, False)
    return {"key": _PLACEHOLDER_RX.sub("*", filled), "kind": kind_of(filled, ctx.kinds)}


def _query_params(binding: Binding, params: Mapping[str, str]) -> dict[str, Any]:
    return {k: _fill(v, params, False) if isinstance(v, str) else v for k, v in binding.params.items()}


def query_id(name: str, params: Mapping[str, Any]) -> str:
    """A query binding's id: its name and filled params, so panels asking the same share one answer."""
    return name + "?" + "&".join(f"{k}={params[k]}" for k in sorted(params))


def query_bindings(screen: Any, params: Mapping[str, str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """{query id: (query name, filled params)} of every query binding of `screen` under `params`: all that a
    page showing it may ask the server to run."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for panel in screen.panels:
        for _loc, b in panel.bindings():
            if b.query is not None:
                filled = _query_params(b, params)
                out[query_id(b.query, filled)] = (b.query, filled)
    return out


def _series(items: list[Any], ctx: RenderContext) -> list[dict[str, Any]]:
    return [{**bind_spec(s.bind, ctx), "label": ctx.text(s.label)} for s in items]


def alarm_levels(panel: AlarmTickerPanel) -> list[str]:
    """The level keys a ticker shows: critical down to its `min_severity`."""
    last = SEVERITIES.index(panel.min_severity)
    return [ALARM_PREFIX + sev for sev in SEVERITIES[: last + 1]]


_NOT_SHOWN = {("per",), ("max_from",)}  # bindings that scale the shown value; they travel under their own keys


def panel_spec(panel: PanelBase, ctx: RenderContext) -> dict[str, Any]:
    """The `data-spec` object: common keys first, then the type's own; `systems` follows the final bindings."""
    family = panel.type in FAMILY_PANELS
    per = getattr(panel, "per", None)
    spec: dict[str, Any] = {
        "type": panel.type,
        "title": ctx.text(panel.title),
        "bind": [bind_spec(b, ctx, family=family) for loc, b in panel.bindings() if loc not in _NOT_SHOWN],
        "per": bind_spec(per, ctx) if per is not None else None,
        "unit": panel.unit,
        "format": panel.format.model_dump(),
        "thresholds": [t.model_dump() for t in panel.thresholds],
        "expect_s": panel.expect_every_s,
    }
    spec.update(RENDERERS[panel.type].extras(panel, ctx))
    keys = [b["key"] for b in [*spec["bind"], spec["per"] or {}] if "key" in b]
    spec["systems"] = sorted({k.split(".", 1)[0] for k in keys})
    return spec


# ---- shared pieces ---------------------------------------------------------------------------------------


def svg_host(cls: str, viewbox: str, aspect: str | None = None) -> html.Div:
    """Stand-in for `<svg class=cls viewBox=...>` (Dash has no svg element); screen.js creates the svg inside."""
    attrs = {"data-svg-class": cls, "data-svg-viewbox": viewbox}
    if aspect is not None:
        attrs["data-svg-par"] = aspect
    return html.Div(className="sc-svg", **attrs)


def _value(unit: str | None) -> html.Div:
    return html.Div(className="sc-value", children=[
        html.Span(PLACEHOLDER, className="sc-num"),
        html.Span(unit or "", className="sc-unit"),
    ])


# ---- one renderer per type -------------------------------------------------------------------------------

_COMPARE_LABEL = {"same_day_last_week": "vs_last_week", "last_comparable_day": "vs_last_day"}


def _kpi_extras(panel: KpiPanel, ctx: RenderContext) -> dict[str, Any]:
    return {"compare": list(panel.compare), "sparkline": panel.sparkline, "bucket_min": panel.bucket_min}


@renderer("kpi", extras=_kpi_extras)
def kpi(panel: KpiPanel, ctx: RenderContext) -> list[Component]:
    """Big number, one delta per comparison (the label rides along as a tooltip), optional sparkline."""
    deltas = [html.Span(PLACEHOLDER, className="sc-delta", title=st(_COMPARE_LABEL[ref], ctx.lang),
                        **{"data-ref": ref}) for ref in panel.compare]
    out: list[Component] = [_value(panel.unit), html.Div(className="sc-compare", children=deltas)]
    if panel.sparkline:
        out.append(svg_host("sc-spark", "0 0 100 30", "none"))
    return out


def _trend_extras(panel: TrendPanel, ctx: RenderContext) -> dict[str, Any]:
    return {"series": _series(panel.series, ctx), "window_min": panel.window_min, "bucket_min": panel.bucket_min,
            "style": panel.style}


@renderer("trend", extras=_trend_extras)
def trend(panel: TrendPanel, ctx: RenderContext) -> list[Component]:
    return [svg_host("sc-chart", "0 0 400 200", "none"),
            html.Ul(className="sc-legend", children=[html.Li(ctx.text(s.label)) for s in panel.series])]


def _member_names(panel: RankingPanel | HeatmapPanel, ctx: RenderContext) -> dict[str, str]:
    """Names for the ids a family panel's rows are keyed by (its key's placeholder: building, unit, ...)."""
    found = _PLACEHOLDER_RX.findall(panel.bind.live or "")
    return dict(ctx.names.get(found[-1], {})) if found else {}


def _ranking_extras(panel: RankingPanel, ctx: RenderContext) -> dict[str, Any]:
    return {"top": panel.top, "names": _member_names(panel, ctx)}


@renderer("ranking", extras=_ranking_extras)
def ranking(panel: RankingPanel, ctx: RenderContext) -> list[Component]:
    """Empty list: the rows are the family's members, known only once data arrives."""
    return [html.Ol(className="sc-bars")]


def _donut_extras(panel: DonutPanel, ctx: RenderContext) -> dict[str, Any]:
    return {"slices": _series(panel.slices, ctx)}


@renderer("donut", extras=_donut_extras)
def donut(panel: DonutPanel, ctx: RenderContext) -> list[Component]:
    return [svg_host("sc-donut", "0 0 100 100"), html.Ul(className="sc-legend")]


def _gauge_extras(panel: GaugePanel, ctx: RenderContext) -> dict[str, Any]:
    max_from = bind_spec(panel.max_from, ctx) if panel.max_from is not None else None
    return {"min": panel.min, "max": panel.max, "max_from": max_from}


@renderer("gauge", extras=_gauge_extras)
def gauge(panel: GaugePanel, ctx: RenderContext) -> list[Component]:
    return [svg_host("sc-gauge", "0 0 100 60"), _value(panel.unit)]


def _heatmap_extras(panel: HeatmapPanel, ctx: RenderContext) -> dict[str, Any]:
    return {"rows": panel.rows, "names": _member_names(panel, ctx)}


@renderer("heatmap", extras=_heatmap_extras)
def heatmap(panel: HeatmapPanel, ctx: RenderContext) -> list[Component]:
    return [html.Div(className="sc-heat")]


# The map's legend (zh, en): what each mark means; screen_map.js writes the counts of the first two.
_MAP_LEGEND: dict[str, tuple[str, str]] = {
    "trip": ("出车", "On a trip"),
    "parked": ("停放", "Parked"),
    "away": ("院外", "Off the map"),
    "building": ("楼宇", "Buildings"),
    "gate_person": ("人行闸机", "Pedestrian gates"),
    "gate_vehicle": ("车辆道闸", "Vehicle gates"),
}
_MAP_LAYERS = {"vehicles": ("trip", "parked", "away", "gate_person", "gate_vehicle"),
               "sites": ("building", "gate_person", "gate_vehicle")}
_MAP_COUNTED = ("trip", "parked")


def _map_extras(panel: MapPanel, ctx: RenderContext) -> dict[str, Any]:
    """The site map rides in the spec: the browser makes no extra request and the map stays signed-in only."""
    return {"layer": panel.layer, "sites": panel.sites}


@renderer("map", extras=_map_extras)
def map_(panel: MapPanel, ctx: RenderContext) -> list[Component]:
    """An empty host for Leaflet (assets/screen_map.js) and the legend; the vehicles layer's shows counts."""
    side = 1 if normalize_lang(ctx.lang) == "en" else 0
    items = []
    for key in _MAP_LAYERS[panel.layer]:
        count = [html.Span(PLACEHOLDER, className="sc-n")] if key in _MAP_COUNTED else []
        items.append(html.Li([html.Span(_MAP_LEGEND[key][side]), *count], className=f"sc-lg-{key}"))
    return [html.Div(className="sc-map"), html.Ul(className="sc-legend sc-map-legend", children=items)]


def _ticker_extras(panel: AlarmTickerPanel, ctx: RenderContext) -> dict[str, Any]:
    levels = alarm_levels(panel)
    return {
        "bind": [{"key": k, "kind": kind_of(k, ctx.kinds)} for k in levels],
        "levels": levels,
        "labels": [st("sev_" + k.rsplit(".", 1)[1], ctx.lang) for k in levels],
        "max_items": panel.max_items,
    }


@renderer("alarm_ticker", extras=_ticker_extras)
def alarm_ticker(panel: AlarmTickerPanel, ctx: RenderContext) -> list[Component]:
    return [html.Ul(className="sc-ticker")]


def _table_extras(panel: EventTablePanel, ctx: RenderContext) -> dict[str, Any]:
    shown = {c.key for c in panel.columns}
    names = {k: dict(v) for k, v in ctx.names.items() if k in shown}
    if panel.row_names is not None and "id" in shown:
        names["id"] = dict(ctx.names.get(panel.row_names, {}))
    return {"columns": [{"key": c.key, "label": ctx.text(c.label)} for c in panel.columns],
            "page_size": panel.page_size, "dwell_s": panel.dwell_s, "names": names}


@renderer("event_table", extras=_table_extras)
def event_table(panel: EventTablePanel, ctx: RenderContext) -> list[Component]:
    head = html.Thead(html.Tr([html.Th(ctx.text(c.label)) for c in panel.columns]))
    return [html.Table(className="sc-table", children=[head, html.Tbody()])]


def _header_extras(panel: HeaderPanel, ctx: RenderContext) -> dict[str, Any]:
    return {"briefing": panel.briefing, "clock": panel.clock}


@renderer("header", extras=_header_extras)
def header(panel: HeaderPanel, ctx: RenderContext) -> list[Component]:
    """Title, briefing and clock are always present; the spec flags tell the script which to fill."""
    return [html.Div(className="sc-hdr", children=[
        html.H1(ctx.text(panel.title), className="sc-title"),
        html.P(className="sc-briefing"),
        html.Span(className="sc-fresh"),
        html.Time(className="sc-clock"),
    ])]


# ---- the section -----------------------------------------------------------------------------------------


def grid_area(panel: PanelBase) -> dict[str, str]:
    """CSS grid placement from the YAML cell (0-based x/y; CSS lines start at 1)."""
    a = panel.at
    return {"gridColumn": f"{a.x + 1} / span {a.w}", "gridRow": f"{a.y + 1} / span {a.h}"}


def panel_section(screen_id: str, panel: PanelBase, ctx: RenderContext) -> html.Section:
    """One panel's `<section>` per the DOM contract; the header has no title line and no freshness line."""
    spec = panel_spec(panel, ctx)
    body = html.Div(className="sc-body", children=RENDERERS[panel.type].body(panel, ctx))
    children: list[Component] = [body]
    if panel.type != "header":
        children = [html.H2(ctx.text(panel.title), className="sc-ptitle"), body,
                    html.Div(PLACEHOLDER, className="sc-age")]
    return html.Section(
        id=f"{screen_id}--{panel.id}",
        className=f"sc-panel sc-t-{panel.type}",
        style=grid_area(panel),
        children=children,
        **{"data-panel": panel.id, "data-type": panel.type,
           "data-spec": json.dumps(spec, ensure_ascii=False, separators=(",", ":"))},
    )
