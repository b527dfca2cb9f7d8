"""The live overview page at `/`: one card per access-layer system plus an events-per-minute chart.

The tree is static: numbers start as "—" and `assets/live.js` fills them in from the Socket.IO
`overview` topic (snapshot on subscribe, then partial updates), writing straight into the text
nodes created here. No Dash callback touches this page, so React never re-renders over the
pushed values. Strings the script needs at run time travel as `data-lbl-*` attributes.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple
from collections.abc import Sequence

from dash import dcc, html

from layouts.i18n import normalize_lang, t

ROOT_ID = "live-overview"
CHART_ID = "lv-rate-chart"
PLACEHOLDER = "—"

# Strings assets/live.js formats at run time (connection state, late and no-data labels).
_SCRIPT_LABELS = (
    "status_connecting",
    "status_syncing",
    "status_connected",
    "status_lost_s",
    "status_lost_min",
    "banner_hint",
    "late",
    "no_data",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

# Colours are repeated from assets/live.css because Plotly draws on canvas/SVG, not with CSS.
_INK_MUTED = "#8ea0bf"
_GRID = "rgba(142, 160, 191, 0.14)"
_ACCENT = "#4cc9f0"
_FONTS = '"CC Sans", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'


class SystemRow(NamedTuple):
    """One access-layer system as the page needs it (name, titles, expected silence before "late")."""

    name: str
    title_zh: str
    title_en: str
    expected_interval_s: float


def layout(lang: str = "zh", systems: Sequence[tuple[str, str, str, float]] = ()) -> html.Div:
    """Build the page for `lang` ("zh" default) and `systems` (the registry's name, titles and interval).

    Systems arrive as a parameter so this module does not import the data sources; the app passes
    `[(s.name, s.title_zh, s.title_en, s.expected_interval_s) for s in SYSTEMS.values()]`.
    """
    lang = normalize_lang(lang)
    rows = [_check(SystemRow(*row)) for row in systems]
    labels = {f"data-lbl-{key.replace('_', '-')}": t(key, lang) for key in _SCRIPT_LABELS}
    return html.Div(
        id=ROOT_ID,
        className="lv-root is-stale",
        lang="en" if lang == "en" else "zh-CN",
        **labels,
        children=[
            _header(lang),
            html.Div(id="lv-banner", className="lv-banner", hidden=True, role="alert", children=PLACEHOLDER),
            html.Section(
                className="lv-cards",
                style={"gridTemplateColumns": f"repeat({_columns(len(rows))}, minmax(0, 1fr))"},
                children=[_card(row, lang) for row in rows],
            ),
            html.Section(
                className="lv-panel lv-chart-panel",
                children=[
                    html.H2(t("chart_title", lang), className="lv-panel-title"),
                    dcc.Graph(
                        id=CHART_ID,
                        className="lv-chart",
                        figure=_empty_figure(lang),
                        config={"displayModeBar": False, "responsive": True},
                        responsive=True,
                    ),
                ],
            ),
        ],
    )


def _check(row: SystemRow) -> SystemRow:
    """System names end up in element ids and metric names: refuse anything that is not a plain slug."""
    if not _NAME_RE.match(row.name):
        raise ValueError(
            f"system name {row.name!r} must be a lowercase slug (a-z, 0-9, _; starting with a letter): "
            "it is used in element ids and in the metric name '<system>.events'"
        )
    if not (math.isfinite(row.expected_interval_s) and row.expected_interval_s > 0):
        raise ValueError(f"system {row.name!r}: expected_interval_s must be a positive number of seconds")
    return row


def _columns(n: int) -> int:
    """Two rows of cards at most for ten systems: 5 columns fit 1366 px wide screens without cramping."""
    return max(1, n if n <= 5 else math.ceil(n / 2))


def _header(lang: str) -> html.Header:
    return html.Header(
        className="lv-header",
        children=[
            html.H1(
                className="lv-title",
                children=[
                    html.Span(t("app_title", lang), className="lv-title-app"),
                    html.Span(" · ", className="lv-title-sep"),
                    html.Span(t("page_title", lang), className="lv-title-page"),
                ],
            ),
            html.Span(
                id="lv-status",
                className="lv-badge is-connecting",
                role="status",
                children=t("status_connecting", lang),
            ),
        ],
    )


def _card(row: SystemRow, lang: str) -> html.Article:
    title = row.title_en if lang == "en" else row.title_zh
    return html.Article(
        id=f"lv-card-{row.name}",
        className="lv-card lv-panel",
        **{"data-system": row.name, "data-expect": str(row.expected_interval_s)},
        children=[
            html.H3(title, className="lv-card-title", title=title),
            html.Div(
                className="lv-card-label-row",
                children=[
                    html.Span(t("today_events", lang), className="lv-card-label"),
                    html.Span(PLACEHOLDER, className="lv-card-state", hidden=True),
                ],
            ),
            html.Div(PLACEHOLDER, className="lv-num lv-card-total"),
            html.Dl(
                className="lv-card-facts",
                children=[
                    html.Div([html.Dt(t("last_minute", lang)), html.Dd(PLACEHOLDER, className="lv-card-minute")]),
                    html.Div([html.Dt(t("newest", lang)), html.Dd(PLACEHOLDER, className="lv-card-last")]),
                ],
            ),
        ],
    )


def _empty_figure(lang: str) -> dict[str, Any]:
    """The chart's styling; live.js keeps it and only swaps the data arrays (Plotly.react)."""
    axis = {"gridcolor": _GRID, "zeroline": False, "color": _INK_MUTED, "fixedrange": True}
    return {
        "data": [
            {
                "type": "bar",
                "name": t("chart_trace", lang),
                "x": [],
                "y": [],
                "marker": {"color": _ACCENT},
                "hovertemplate": "%{x|%H:%M}  %{y:,}<extra></extra>",
            }
        ],
        "layout": {
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": _INK_MUTED, "size": 13, "family": _FONTS},
            "margin": {"l": 48, "r": 12, "t": 8, "b": 28},
            "bargap": 0.25,
            "showlegend": False,
            "xaxis": {
                **axis,
                "type": "date",
                "tickformat": "%H:%M",
                "showgrid": False,
                "ticklabeloverflow": "hide past domain",  # the first label would sit on the y axis' "0"
            },
            "yaxis": {**axis, "rangemode": "tozero", "tickformat": ",d", "ticklabelstandoff": 6},
            "separators": ".,",
        },
    }
