"""The live overview layout: builds in both languages, one card per system, nothing from the internet."""

from __future__ import annotations

import json
import re
from typing import Any
from collections.abc import Iterator

import plotly.utils
import pytest

from layouts import i18n
from layouts.live_overview import CHART_ID, ROOT_ID, layout

SYSTEMS = [
    ("canteen", "智慧餐厅", "Canteen", 60),
    ("passage", "智慧通行", "Passage", 60),
    ("energy", "智慧节能", "Energy", 1200),
]


def _walk(node: Any) -> Iterator[Any]:
    """Every component and string in the tree, depth first (document order)."""
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None:
            yield from _walk(child)


def _by_id(tree: Any) -> dict[str, Any]:
    return {n.id: n for n in _walk(tree) if getattr(n, "id", None)}


def _text(node: Any) -> str:
    return "".join(n for n in _walk(node) if isinstance(n, str))


@pytest.mark.parametrize(
    "lang,titles,page_title",
    [
        ("zh", ["智慧餐厅", "智慧通行", "智慧节能"], "实时数据总览"),
        ("en", ["Canteen", "Passage", "Energy"], "Live data overview"),
    ],
)
def test_one_card_per_system_with_titles(lang: str, titles: list[str], page_title: str) -> None:
    tree = layout(lang, SYSTEMS)
    ids = _by_id(tree)
    assert tree.id == ROOT_ID and CHART_ID in ids and "lv-status" in ids
    cards = [n for n in _walk(tree) if "lv-card " in (getattr(n, "className", None) or "")]
    assert [c.id for c in cards] == ["lv-card-canteen", "lv-card-passage", "lv-card-energy"]
    assert [_text(c).split("今日事件数" if lang == "zh" else "Events today")[0] for c in cards] == titles
    assert page_title in _text(tree)
    assert ids["lv-card-energy"].to_plotly_json()["props"]["data-expect"] == "1200"


def test_chinese_is_default_and_unknown_lang_falls_back() -> None:
    assert _text(layout(systems=SYSTEMS)) == _text(layout("fr", SYSTEMS))
    assert "智慧餐厅" in _text(layout(systems=SYSTEMS))


def test_script_labels_travel_as_data_attributes() -> None:
    props = layout("en", SYSTEMS).to_plotly_json()["props"]
    assert props["data-lbl-late"] == "late {n} min"
    assert props["data-lbl-status-lost-s"] == "Connection lost {n} s"
    assert props["lang"] == "en"


def test_chart_has_no_mode_bar() -> None:
    graph = _by_id(layout("zh", SYSTEMS))[CHART_ID]
    assert graph.config["displayModeBar"] is False


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_external_urls_in_tree(lang: str) -> None:
    payload = json.dumps(layout(lang, SYSTEMS), cls=plotly.utils.PlotlyJSONEncoder)
    assert not re.search(r"(https?:)?//|www\.", payload)


def test_bad_system_name_is_refused_with_a_fix() -> None:
    with pytest.raises(ValueError, match=r"system name 'Canteen Hall' must be a lowercase slug"):
        layout("zh", [("Canteen Hall", "餐厅", "Canteen", 60)])
    with pytest.raises(ValueError, match=r"expected_interval_s must be a positive number"):
        layout("zh", [("canteen", "餐厅", "Canteen", 0)])


def test_every_string_has_both_languages() -> None:
    for key in i18n.keys():
        zh, en = i18n.t(key, "zh"), i18n.t(key, "en")
        assert zh and en and zh != en
        assert ("{n}" in zh) == ("{n}" in en)
    with pytest.raises(KeyError):
        i18n.t("no_such_key")
