"""The big-screen page tree: every shipped screen renders per the DOM contract shared with assets/screen.js.

Tests may import analytics; the catalogue and the metric kinds are built the way app.py builds them.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly.utils
import pytest

import analytics.metrics  # noqa: F401 - importing registers every metric
from analytics.deltas import metrics
from callbacks.screen_topics import ALARM_LEVELS, topic_name
from layouts import screen_i18n
from layouts.panels import RENDERERS, RenderContext, bind_spec, panel_spec, renderer
from layouts.screen_page import error_page, screen_page
from screens.loader import Catalogue, LoadResult, ScreenError, load_all
from screens.model import PANEL_TYPES, Binding, Screen
from warehouse.panel_queries import NAMED_QUERIES

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["canteen", "energy", "overview", "property", "security", "vehicles"]
KINDS = {n: i.kind for n, i in metrics().items()}


@pytest.fixture(scope="module")
def loaded() -> LoadResult:
    return load_all(ROOT / "screens", Catalogue(metrics(), NAMED_QUERIES))


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None:
            yield from _walk(child)


def _props(node: Any) -> dict[str, Any]:
    return node.to_plotly_json()["props"]


def _classes(node: Any) -> list[str]:
    return (getattr(node, "className", None) or "").split()


def _with_class(tree: Any, cls: str) -> list[Any]:
    return [n for n in _walk(tree) if cls in _classes(n)]


def _text(node: Any) -> str:
    return "".join(n for n in _walk(node) if isinstance(n, str))


def _specs(tree: Any) -> dict[str, dict[str, Any]]:
    return {n.id: json.loads(_props(n)["data-spec"]) for n in _with_class(tree, "sc-panel")}


def _page(loaded: LoadResult, screen_id: str, lang: str = "zh", params: dict[str, str] | None = None) -> Any:
    return screen_page([(loaded.screens[screen_id], params or {}, None)], lang=lang, kiosk=False, kinds=KINDS)


def _wall(loaded: LoadResult, lang: str = "zh") -> Any:
    slides = [(loaded.screens[s.screen], s.params, s.dwell_s) for s in loaded.playlists["leadership"].slides]
    return screen_page(slides, lang=lang, kiosk=True, kinds=KINDS)


def test_one_renderer_per_panel_type_registered_once() -> None:
    assert sorted(RENDERERS) == sorted(PANEL_TYPES)
    with pytest.raises(ValueError, match="already has a renderer"):
        renderer("kpi")(lambda panel, ctx: [])


@pytest.mark.parametrize("screen_id", SHIPPED)
def test_every_panel_renders_one_section_per_the_contract(loaded: LoadResult, screen_id: str) -> None:
    screen = loaded.screens[screen_id]
    tree = _page(loaded, screen_id)
    payload = json.dumps(tree, cls=plotly.utils.PlotlyJSONEncoder)  # serialisable, as Dash will send it
    assert not re.search(r"(https?:)?//|www\.|dangerously|<script", payload)
    sections = _with_class(tree, "sc-panel")
    assert [s.id for s in sections] == [f"{screen_id}--{p.id}" for p in screen.panels]
    for panel, section in zip(screen.panels, sections, strict=True):
        props = _props(section)
        assert _classes(section) == ["sc-panel", f"sc-t-{panel.type}"]
        assert (props["data-panel"], props["data-type"]) == (panel.id, panel.type)
        a = panel.at
        assert props["style"] == {"gridColumn": f"{a.x + 1} / span {a.w}", "gridRow": f"{a.y + 1} / span {a.h}"}
        spec = json.loads(props["data-spec"])
        assert spec["type"] == panel.type and spec["title"] == panel.title.zh
        binds = [*spec["bind"], *([spec["per"]] if spec["per"] else [])]
        for b in binds + spec.get("series", []) + spec.get("slices", []):
            if "query" in b:
                assert set(b) >= {"query", "params", "qid"} and "key" not in b
                continue
            assert "{" not in b["key"] and b["kind"] in ("sum", "level", "last"), (panel.id, b)
        assert spec["systems"] == sorted({b["key"].split(".")[0] for b in binds if "key" in b})
        bodies = _with_class(section, "sc-body")
        assert len(bodies) == 1
        titles, ages = _with_class(section, "sc-ptitle"), _with_class(section, "sc-age")
        if panel.type == "header":
            assert not titles and not ages and _with_class(section, "sc-hdr")
        else:
            assert _text(titles[0]) == panel.title.zh and _text(ages[0]) == "—"


def test_canvas_and_slide_attributes_follow_the_screen_design(loaded: LoadResult) -> None:
    tree = _page(loaded, "overview")
    props = _props(tree)
    assert tree.id == "sc-page" and _classes(tree) == ["sc-page"] and props["lang"] == "zh-CN"
    assert props["data-lang"] == "zh" and props["data-kiosk"] == "0"
    assert props["data-lbl-late"] == "数据延迟 {n} 分钟" and props["data-lbl-briefing-sep"] == "；"
    banner = _with_class(tree, "sc-banner")[0]
    assert _props(banner)["role"] == "alert" and banner.hidden is True
    (slide,) = _with_class(tree, "sc-slide")
    sp = _props(slide)
    assert sp["data-screen"] == "overview" and sp["data-topic"] == topic_name("overview") == "screen:overview"
    assert (sp["data-design-w"], sp["data-design-h"]) == ("1920", "1080")
    assert "data-dwell" not in sp and not sp.get("hidden")
    canvas = _with_class(slide, "sc-canvas")[0]
    assert canvas.style == {"width": "1920px", "height": "1080px", "display": "grid",
                            "gridTemplateColumns": "repeat(24,minmax(0,1fr))",
                            "gridTemplateRows": "repeat(12,minmax(0,1fr))", "gap": "12px", "padding": "12px",
                            "boxSizing": "border-box"}


def test_every_contract_label_is_on_the_page_in_both_languages(loaded: LoadResult) -> None:
    want = {"status-connecting", "status-syncing", "status-connected", "lost-s", "lost-min", "late", "updated",
            "no-data", "vs-last-week", "vs-last-day", "briefing-sep"}
    zh, en = _props(_page(loaded, "canteen")), _props(_page(loaded, "canteen", "en"))
    for name in want:
        assert zh[f"data-lbl-{name}"] and en[f"data-lbl-{name}"], name
    assert zh["data-lbl-vs-last-week"] == "较上周同日" and zh["data-lbl-updated"] == "{t} 更新"
    assert en["lang"] == "en" and en["data-lang"] == "en"
    for key in screen_i18n.keys():
        assert screen_i18n.st(key, "zh") != screen_i18n.st(key, "en"), key


def test_leadership_wall_has_one_slide_per_playlist_slide_and_only_the_first_shows(loaded: LoadResult) -> None:
    playlist = loaded.playlists["leadership"]
    tree = _wall(loaded)
    assert _classes(tree) == ["sc-page", "sc-kiosk"] and _props(tree)["data-kiosk"] == "1"
    slides = _with_class(tree, "sc-slide")
    assert [_props(s)["data-screen"] for s in slides] == [s.screen for s in playlist.slides]
    assert [_props(s)["data-dwell"] for s in slides] == [str(s.dwell_s) for s in playlist.slides]
    assert [bool(s.hidden) for s in slides] == [False] + [True] * (len(slides) - 1)
    ids = [n.id for n in _walk(tree) if getattr(n, "id", None)]
    assert len(ids) == len(set(ids))


def test_energy_slide_params_pick_the_building_but_family_panels_stay_globs(loaded: LoadResult) -> None:
    wall = _specs(_wall(loaded))
    assert wall["energy--building_electricity"]["bind"] == [
        {"key": "energy.electricity.building.B01", "kind": "sum"}]
    specs = _specs(_page(loaded, "energy", params={"building": "B07"}))
    assert specs["energy--building_electricity"]["bind"][0]["key"] == "energy.electricity.building.B07"
    assert specs["energy--building_electricity"]["systems"] == ["energy"]
    for pid in ("building_ranking", "building_hours"):
        assert specs[f"energy--{pid}"]["bind"] == [{"key": "energy.electricity.building.*", "kind": "sum"}]
    assert specs["energy--building_hours"]["rows"] == "building"


def test_unfilled_placeholders_become_globs_and_queries_are_not_live(loaded: LoadResult) -> None:
    ctx = RenderContext(kinds=KINDS)
    assert bind_spec(Binding(live="canteen.meals.canteen.{canteen}"), ctx) == {
        "key": "canteen.meals.canteen.*", "kind": "sum"}
    q = Binding(query="totals_by_dim", params={"schema": "energy.{building}", "period": "today"})
    assert bind_spec(q, RenderContext(params={"building": "B02"})) == {
        "query": "totals_by_dim", "params": {"schema": "energy.B02", "period": "today"},
        "qid": "totals_by_dim?period=today&schema=energy.B02"}
    spec = _specs(_page(loaded, "property"))["property--orders_by_unit"]
    assert spec["bind"] == [{"query": "totals_by_dim", "params": {"schema": "property.order_created",
                                                                  "period": "today"},
                             "qid": "totals_by_dim?period=today&schema=property.order_created"}]
    assert spec["systems"] == [] and spec["top"] == 10


def test_type_specific_spec_keys_and_bodies(loaded: LoadResult) -> None:
    overview = _page(loaded, "overview")
    specs = _specs(overview)
    kpi = specs["overview--meals_today"]
    assert kpi["compare"] == ["same_day_last_week"] and kpi["sparkline"] is True and kpi["expect_s"] == 120
    assert kpi["unit"] == "人次" and kpi["format"] == {"decimals": 0, "thousands": True, "percent": False}
    vacancy = specs["overview--room_vacancy"]
    assert vacancy["per"] == {"key": "rooms.total", "kind": "last"} and vacancy["format"]["percent"] is True
    assert specs["overview--people_on_site"]["thresholds"][0] == {"above": 2500, "color": "warn"}
    assert specs["overview--people_flow"]["series"][0] == {"key": "passage.in", "kind": "sum", "label": "进入"}
    assert specs["overview--energy_vs_quota"]["max"] == 45000
    ticker = specs["overview--alarms"]
    assert ticker["levels"] == ["security.open.critical", "security.open.high", "security.open.medium"]
    assert ticker["systems"] == ["security"] and all(fnmatch.fnmatch(k, ALARM_LEVELS) for k in ticker["levels"])
    assert {b["kind"] for b in ticker["bind"]} == {"level"}
    assert specs["overview--header"]["briefing"] is True and specs["overview--header"]["bind"] == []
    section = next(n for n in _walk(overview) if getattr(n, "id", None) == "overview--meals_today")
    delta = _with_class(section, "sc-delta")[0]
    assert _props(delta)["data-ref"] == "same_day_last_week" and _text(delta) == "—"
    assert [_props(n)["data-svg-class"] for n in _with_class(section, "sc-svg")] == ["sc-spark"]
    vehicles = _page(loaded, "vehicles")
    table = _specs(vehicles)["vehicles--due"]
    assert table["bind"] == [{"key": "vehicles.due", "kind": "last"}] and table["page_size"] == 8
    heads = [_text(n) for n in _walk(vehicles) if type(n).__name__ == "Th"]
    assert heads == ["车牌", "保险到期", "年检到期", "保养后里程(km)"]
    assert _specs(vehicles)["vehicles--positions"]["layer"] == "vehicles"


def test_english_titles(loaded: LoadResult) -> None:
    tree = _page(loaded, "overview", "en")
    specs = _specs(tree)
    screen: Screen = loaded.screens["overview"]
    assert [s["title"] for s in specs.values()] == [p.title.en for p in screen.panels]
    assert _text(_with_class(tree, "sc-title")[0]) == "Compound overview"
    assert [_text(n) for n in _with_class(tree, "sc-ptitle")][:2] == ["People on site", "Meals today"]
    assert _props(_with_class(tree, "sc-slide")[0])["aria-label"] == "Overview"
    assert "今日就餐" not in _text(tree)


@pytest.mark.parametrize("lang,title", [("zh", "大屏配置有误"), ("en", "Screen definition has errors")])
def test_error_page_lists_messages_as_text(lang: str, title: str) -> None:
    err = ScreenError("screens/overview.yaml", 14, "meals_today", "panels[2].at.w",
                      "expected an integer from 1 to 24, got 30")
    raw = "screens/x.yaml:3: <b>not html</b>"
    page = error_page([err, raw], lang)
    text = _text(page)
    assert title in text and str(err) in text and raw in text
    items = [n for n in _walk(page) if type(n).__name__ == "Li"]
    assert [_text(li) for li in items] == [str(err), raw]
    assert page.id != "sc-page" and _props(page)["lang"] == ("en" if lang == "en" else "zh-CN")


def test_panel_spec_is_pure(loaded: LoadResult) -> None:
    screen = loaded.screens["energy"]
    ctx = RenderContext(lang="zh", params={"building": "B03"}, kinds=KINDS)
    first = [panel_spec(p, ctx) for p in screen.panels]
    assert first == [panel_spec(p, ctx) for p in screen.panels]


def test_family_panels_carry_the_names_of_their_members_in_the_pages_language(loaded: LoadResult) -> None:
    names = {"zh": {"building": {"B01": "1号楼"}, "unit": {"U01": "办公厅"}}, "en": {"unit": {"U01": "General Office"}}}
    energy = loaded.screens["energy"]
    zh = _specs(screen_page([(energy, {}, None)], lang="zh", kinds=KINDS, names=names))
    assert zh["energy--building_ranking"]["names"] == {"B01": "1号楼"}
    assert zh["energy--building_hours"]["names"] == {"B01": "1号楼"}
    en = _specs(screen_page([(energy, {}, None)], lang="en", kinds=KINDS, names=names))
    assert en["energy--building_ranking"]["names"] == {}  # no English building names: the page shows ids
    assert _specs(_page(loaded, "energy"))["energy--building_ranking"]["names"] == {}
