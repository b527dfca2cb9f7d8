"""The big-screen page: one screen (/screens/<id>) or every slide of a playlist (/wall/<playlist>).

The tree is static (numbers start as "—") and follows the DOM contract with `assets/screen.js`, which
subscribes to every slide's topic over one Socket.IO connection, fills the panels and rotates the slides.
No Dash callback touches this page, so React never re-renders over pushed values. Strings the script
formats at run time travel as `data-lbl-*` attributes on `#sc-page`.
"""

from __future__ import annotations

import json

from collections.abc import Iterable, Mapping, Sequence

from dash import html

from layouts.i18n import normalize_lang
from layouts.panels import RenderContext, panel_section
from layouts.screen_i18n import PAGE_LABELS, st
from screens.loader import ScreenError
from screens.model import Screen

PAGE_ID = "sc-page"
ERROR_PAGE_ID = "sc-error-page"

SlideSpec = tuple[Screen, Mapping[str, str], int | None]


def topic_of(screen: Screen) -> str:
    """The push topic of a screen; the same name callbacks.screen_topics.topic_name gives (a test checks)."""
    return f"screen:{screen.id}"


def _html_lang(lang: str) -> str:
    return "en" if lang == "en" else "zh-CN"


def canvas_style(screen: Screen) -> dict[str, str]:
    """The design-size grid; screen.js scales the whole canvas to the wall, so cells keep their proportions."""
    g = screen.grid
    return {
        "width": f"{screen.design.width}px",
        "height": f"{screen.design.height}px",
        "display": "grid",
        "gridTemplateColumns": f"repeat({g.columns},minmax(0,1fr))",
        "gridTemplateRows": f"repeat({g.rows},minmax(0,1fr))",
        "gap": f"{g.gap}px",
        "padding": f"{g.gap}px",
        "boxSizing": "border-box",
    }


def slide(screen: Screen, params: Mapping[str, str], dwell: int | None, *, lang: str, kinds: Mapping[str, str],
          names: Mapping[str, Mapping[str, str]], visible: bool) -> html.Div:
    """One `sc-slide`: the slide's params override the screen's defaults; `dwell` only on playlists."""
    ctx = RenderContext(lang=lang, params={**screen.params, **params}, kinds=kinds, names=names)
    attrs = {
        "data-screen": screen.id,
        "data-topic": topic_of(screen),
        "data-params": json.dumps(ctx.params, ensure_ascii=False, separators=(",", ":")),
        "data-design-w": str(screen.design.width),
        "data-design-h": str(screen.design.height),
    }
    if dwell is not None:
        attrs["data-dwell"] = str(dwell)
    title = ctx.text(screen.title)
    canvas = html.Div(className="sc-canvas", style=canvas_style(screen),
                      children=[panel_section(screen.id, p, ctx) for p in screen.panels])
    return html.Div(className="sc-slide", hidden=not visible, children=[canvas], **attrs, **{"aria-label": title})


def screen_page(slides: Sequence[SlideSpec], *, lang: str = "zh", kiosk: bool = False,
                kinds: Mapping[str, str], names: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None
                ) -> html.Div:
    """`#sc-page` with one slide per (screen, slide params, dwell seconds or None); only the first is shown.
    `names`: {lang: {placeholder: {id: display name}}} for family panels' rows."""
    if not slides:
        raise ValueError("a screen page needs at least one slide")
    lang = normalize_lang(lang)
    labels = {f"data-lbl-{name}": st(key, lang) for name, key in PAGE_LABELS.items()}
    return html.Div(
        id=PAGE_ID,
        className="sc-page sc-kiosk" if kiosk else "sc-page",
        lang=_html_lang(lang),
        children=[
            html.Div(className="sc-banner", role="alert", hidden=True),
            *(slide(s, p, d, lang=lang, kinds=kinds, names=(names or {}).get(lang, {}), visible=i == 0)
              for i, (s, p, d) in enumerate(slides)),
        ],
        **{"data-lang": lang, "data-kiosk": "1" if kiosk else "0"},
        **labels,
    )


def error_page(messages: Iterable[str | ScreenError], lang: str = "zh") -> html.Div:
    """Shown instead of a wall whose files failed validation: the loader's messages as plain text, one per line,
    so whoever edits the YAML sees what to fix (a blank wall would only say "something is wrong")."""
    lang = normalize_lang(lang)
    items = [str(m) for m in messages]
    return html.Div(
        id=ERROR_PAGE_ID,
        className="sc-error",
        lang=_html_lang(lang),
        role="alert",
        children=[
            html.H1(st("error_title", lang), className="sc-error-title"),
            html.P(st("error_hint", lang), className="sc-error-hint"),
            html.P(st("error_count", lang).replace("{n}", str(len(items))), className="sc-error-count"),
            html.Ul(className="sc-error-list", children=[html.Li(html.Code(m)) for m in items]),
        ],
    )
