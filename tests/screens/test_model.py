"""The schema on its own: defaults, each panel type's fields, scalar messages, catalogue matching, cross-field rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from screens.model import (
    AlarmTickerPanel,
    Binding,
    DonutPanel,
    EventTablePanel,
    GaugePanel,
    HeaderPanel,
    HeatmapPanel,
    KpiPanel,
    MapPanel,
    Playlist,
    RankingPanel,
    Screen,
    TrendPanel,
)
from screens.rules import Catalogue, playlist_issues, screen_issues

CATALOGUE = Catalogue(
    metrics=["passage.on_site", "canteen.meals", "canteen.meals.canteen.{canteen}", "canteen.dish.{dish}",
             "energy.electricity.building.{building}", "energy.electricity"],
    queries=["daily_counts", "totals_by_dim"],
)
TITLE = {"zh": "标题", "en": "Title"}


def panel(type_: str, at: dict[str, int] | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": f"p_{type_}", "type": type_, "title": TITLE, "at": at or {"x": 0, "y": 0, "w": 6, "h": 3}, **fields}


def make_screen(*panels: dict[str, Any], **top: Any) -> Screen:
    return Screen.model_validate({"schema_version": 1, "id": "s", "title": TITLE, "panels": list(panels), **top})


def errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        Screen.model_validate({"schema_version": 1, "id": "s", "title": TITLE, **data})
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_screen_defaults() -> None:
    s = make_screen(panel("header"))
    assert (s.design.width, s.design.height, s.theme) == (1920, 1080, "dark")
    assert (s.grid.columns, s.grid.rows, s.grid.gap) == (24, 12, 12)
    assert s.params == {}
    p = s.panels[0]
    assert isinstance(p, HeaderPanel)
    assert (p.briefing, p.clock, p.privacy, p.expect_every_s, p.drill, p.unit) == (False, True, "public", None, None,
                                                                                  None)
    assert (p.format.decimals, p.format.thousands, p.format.percent, p.thresholds) == (0, True, False, [])


@pytest.mark.parametrize(("data", "cls", "expected"), [
    (panel("kpi", bind={"live": "passage.on_site"}), KpiPanel,
     {"compare": [], "sparkline": False, "per": None}),
    (panel("trend", series=[{"label": TITLE, "bind": {"live": "canteen.meals"}}]), TrendPanel,
     {"window_min": 60, "bucket_min": 1, "style": "line"}),
    (panel("ranking", bind={"live": "canteen.dish.{dish}"}), RankingPanel, {"top": 10}),
    (panel("donut", slices=[{"label": TITLE, "bind": {"live": "canteen.meals"}}] * 2), DonutPanel, {}),
    (panel("gauge", bind={"live": "energy.electricity"}, max=45000), GaugePanel, {"min": 0.0, "max": 45000.0}),
    (panel("heatmap", bind={"live": "energy.electricity.building.{building}"}, rows="building"), HeatmapPanel,
     {"columns": "hour"}),
    (panel("map", layer="sites"), MapPanel, {"bind": None, "overlay": None}),
    (panel("alarm_ticker"), AlarmTickerPanel, {"max_items": 10, "min_severity": "low"}),
    (panel("event_table", bind={"live": "canteen.meals"}, columns=[{"key": "len", "label": TITLE}]), EventTablePanel,
     {"page_size": 10, "dwell_s": 10}),
    (panel("header", briefing=True), HeaderPanel, {"briefing": True, "clock": True}),
])
def test_each_panel_type_and_its_defaults(data: dict[str, Any], cls: type, expected: dict[str, Any]) -> None:
    p = make_screen(data).panels[0]
    assert type(p) is cls
    assert {k: getattr(p, k) for k in expected} == expected


def test_kpi_with_everything() -> None:
    p = make_screen(panel(
        "kpi", bind={"live": "canteen.meals"}, per={"live": "passage.on_site"}, unit="人次",
        format={"decimals": 1, "thousands": False, "percent": True}, compare=["same_day_last_week"], sparkline=True,
        thresholds=[{"above": 2500, "color": "warn"}, {"above": 2900.5, "color": "alarm"}], expect_every_s=60,
        drill="/units/{unit_id}", privacy="internal")).panels[0]
    assert isinstance(p, KpiPanel)
    assert [b.live for _, b in p.bindings()] == ["canteen.meals", "passage.on_site"]
    assert [(t.above, t.color) for t in p.thresholds] == [(2500.0, "warn"), (2900.5, "alarm")]
    assert (p.drill, p.privacy, p.expect_every_s) == ("/units/{unit_id}", "internal", 60)


def test_query_binding_keeps_its_params() -> None:
    b = Binding.model_validate({"query": "daily_counts", "params": {"schema": "canteen.settlement", "days": 7}})
    assert (b.live, b.query, b.params) == (None, "daily_counts", {"schema": "canteen.settlement", "days": 7})


@pytest.mark.parametrize(("data", "loc", "msg"), [
    (panel("trend", series=[{"label": TITLE, "bind": {"live": "canteen.meals"}}], window_min=2),
     ("panels", 0, "trend", "window_min"), "expected an integer from 5 to 1440, got 2"),
    (panel("trend", series=[{"label": TITLE, "bind": {"live": "canteen.meals"}}], bucket_min=7),
     ("panels", 0, "trend", "bucket_min"), "Input should be 1, 5, 10, 15, 30 or 60"),
    (panel("ranking", bind={"live": "canteen.dish.{dish}"}, top=True),
     ("panels", 0, "ranking", "top"), "expected an integer from 3 to 20, got true"),
    (panel("alarm_ticker", max_items="10"),
     ("panels", 0, "alarm_ticker", "max_items"), "expected an integer from 1 to 50, got '10'"),
    (panel("header", unit=True),
     ("panels", 0, "header", "unit"),
     "expected text, got true; YAML reads yes/no/on/off as true/false, so quote the word"),
    ({**panel("header"), "title": {"zh": 2024, "en": "Year"}}, ("panels", 0, "header", "title", "zh"),
     "expected non-empty text, got 2024; quote it"),
    (panel("header", clock="yes"), ("panels", 0, "header", "clock"), "expected true or false, got 'yes'"),
    (panel("gauge", bind={"live": "energy.electricity"}, max="lots"),
     ("panels", 0, "gauge", "max"), "expected a number, got 'lots'"),
    ({**panel("header"), "id": "Header-1"}, ("panels", 0, "header", "id"),
     "expected an id of lowercase letters, digits and underscores starting with a letter, got 'Header-1'"),
    (panel("header", drill="https://example.com/x"), ("panels", 0, "header", "drill"),
     "expected a local path starting with '/', like '/units/{unit_id}', got 'https://example.com/x'"),
    (panel("map", layer="sites", overlay="//cdn.example.com/a.png"), ("panels", 0, "map", "overlay"),
     "expected a GeoJSON file under screens/, got the URL '//cdn.example.com/a.png'; walls run offline: save the "
     "file under screens/maps/ and give its path, like 'maps/compound.geojson'"),
    (panel("map", layer="sites", overlay="maps/../../settings.geojson"), ("panels", 0, "map", "overlay"),
     "expected a GeoJSON file under screens/, like 'maps/compound.geojson', got 'maps/../../settings.geojson'"),
    (panel("map", layer="sites", overlay="/etc/compound.geojson"), ("panels", 0, "map", "overlay"),
     "expected a GeoJSON file under screens/, like 'maps/compound.geojson', got '/etc/compound.geojson'"),
    (panel("map", layer="sites", overlay="maps/compound.png"), ("panels", 0, "map", "overlay"),
     "expected a GeoJSON file under screens/, like 'maps/compound.geojson', got 'maps/compound.png'"),
    (panel("kpi", bind={"live": "canteen.meals", "query": "daily_counts"}), ("panels", 0, "kpi", "bind"),
     "give exactly one of 'live: <metric key>' or 'query: <query name>'"),
    (panel("kpi", bind={"live": "canteen.meals", "params": {"days": 7}}), ("panels", 0, "kpi", "bind"),
     "params go with a query; a live metric takes none"),
    (panel("kpi", bind={"live": "Canteen meals"}), ("panels", 0, "kpi", "bind", "live"),
     "expected a metric key like 'passage.on_site', got 'Canteen meals'"),
    (panel("header", colour="red", size=2), ("panels", 0, "header"),
     "unknown keys 'colour', 'size'; allowed keys: id, type, title, at, unit, format, thresholds, expect_every_s, "
     "drill, privacy, briefing, clock"),
])
def test_scalar_and_key_messages(data: dict[str, Any], loc: tuple[Any, ...], msg: str) -> None:
    assert errors({"panels": [data]}) == [(loc, msg)]


def test_a_good_overlay_is_a_geojson_file_beside_the_screens() -> None:
    p = make_screen(panel("map", layer="vehicles", overlay="maps/compound.geojson")).panels[0]
    assert isinstance(p, MapPanel) and p.overlay == "maps/compound.geojson" and p.sites is None


def test_models_are_frozen() -> None:
    s = make_screen(panel("header"))
    with pytest.raises(ValidationError):
        s.id = "other"  # type: ignore[misc]


def test_catalogue_matches_members_of_a_family() -> None:
    assert CATALOGUE.resolve("canteen.meals") == "canteen.meals"
    assert CATALOGUE.resolve("canteen.meals.canteen.CT1") == "canteen.meals.canteen.{canteen}"
    assert CATALOGUE.resolve("canteen.meals.canteen") is None
    assert CATALOGUE.resolve("canteen.meals.canteen.CT1.x") is None
    assert CATALOGUE.resolve("canteen.dish.{dish}") is None  # a family is not one number
    assert CATALOGUE.is_family("canteen.dish.{dish}") and not CATALOGUE.is_family("canteen.meals")
    assert CATALOGUE.families() == ["canteen.dish.{dish}", "canteen.meals.canteen.{canteen}",
                                    "energy.electricity.building.{building}"]


def test_catalogue_suggestions() -> None:
    assert CATALOGUE.unknown_metric("canteen.meal") == "unknown metric 'canteen.meal'; did you mean 'canteen.meals'?"
    assert CATALOGUE.unknown_metric("zzz") == "unknown metric 'zzz'; no similar name in the metric catalogue"
    assert CATALOGUE.unknown_query("nope") == "unknown query 'nope'; known queries: daily_counts, totals_by_dim"


def issues(s: Screen) -> list[tuple[tuple[Any, ...], str]]:
    return [(i.loc, i.message) for i in screen_issues(s, CATALOGUE)]


def test_a_family_member_or_a_declared_placeholder_binds_a_single_panel() -> None:
    s = make_screen(panel("kpi", bind={"live": "canteen.meals.canteen.CT2"}),
                    {**panel("kpi", {"x": 6, "y": 0, "w": 6, "h": 3}, bind={"live": "energy.electricity.building.{b}"}),
                     "id": "b1"},
                    params={"b": "B01"})
    assert issues(s) == []  # {b} is filled from the screen's params before matching
    s = make_screen(panel("kpi", bind={"live": "energy.electricity.buildings.B01"}))
    assert issues(s) == [(("panels", 0, "bind", "live"), "unknown metric 'energy.electricity.buildings.B01'; did you "
                                                          "mean 'energy.electricity.building.{building}' or "
                                                          "'energy.electricity'?")]
    s = make_screen(panel("kpi", bind={"live": "energy.electricity.building.{building}"}))
    assert issues(s) == [(("panels", 0, "bind", "live"),
                          "placeholder '{building}' is not a screen param; declare it at the top "
                          "(params: {building: <default>}) or bind one member of "
                          "'energy.electricity.building.{building}'")]
    assert issues(make_screen(panel("kpi", bind={"live": "energy.electricity.building.{building}"}),
                              params={"building": "B01"})) == []


def test_ranking_and_heatmap_bind_a_family_or_a_query() -> None:
    s = make_screen(panel("ranking", bind={"live": "canteen.meals"}),
                    panel("heatmap", {"x": 6, "y": 0, "w": 6, "h": 3}, bind={"live": "canteen.dish.{dish}"},
                          rows="building"),
                    {**panel("ranking", {"x": 12, "y": 0, "w": 6, "h": 3}, bind={"query": "totals_by_dim"}), "id": "q"})
    assert issues(s) == [
        (("panels", 0, "bind", "live"), "a ranking binds a metric family with a {placeholder}, like "
                                        "'canteen.dish.{dish}', or a query; 'canteen.meals' is a single metric"),
        (("panels", 1, "bind", "live"), "rows: building needs a family with a {building} placeholder, "
                                        "got 'canteen.dish.{dish}'"),
    ]


def test_value_rules() -> None:
    s = make_screen(panel("gauge", bind={"live": "energy.electricity"}, min=10, max=10,
                          thresholds=[{"above": 5, "color": "warn"}, {"above": 5, "color": "alarm"}]))
    assert issues(s) == [
        (("panels", 0, "thresholds", 1, "above"), "thresholds must rise: 5 is not above 5; list them from low to high"),
        (("panels", 0, "max"), "max 10 must be greater than min 10"),
    ]


def test_a_gauge_max_from_a_query_takes_thresholds_as_fractions() -> None:
    good = panel("gauge", bind={"live": "energy.electricity"}, max=45000, max_from={"query": "daily_counts"},
                 thresholds=[{"above": 0.9, "color": "warn"}])
    assert [loc for loc, _b in make_screen(good).panels[0].bindings()] == [("bind",), ("max_from",)]
    absolute = {**good, "thresholds": [{"above": 40000, "color": "warn"}]}
    assert errors({"panels": [absolute]}) == [
        (("panels", 0, "gauge"), "with max_from a threshold is a fraction of the max, like 0.9; got 40000")]


def test_layout_rules_on_a_custom_grid() -> None:
    s = make_screen(panel("header", {"x": 0, "y": 0, "w": 8, "h": 1}),
                    {**panel("header", {"x": 8, "y": 0, "w": 1, "h": 1}), "id": "h2"},
                    {**panel("header", {"x": 0, "y": 5, "w": 2, "h": 2}), "id": "h3"},
                    {**panel("header", {"x": 7, "y": 0, "w": 1, "h": 9}), "id": "h4"},
                    grid={"columns": 8, "rows": 6})
    assert issues(s) == [
        (("panels", 1, "at", "x"), "expected an integer from 0 to 7, got 8"),
        (("panels", 2, "at"), "y 5 + h 2 reaches past the grid's 6 rows; make h at most 1 or y at most 4"),
        (("panels", 3, "at", "h"), "expected an integer from 1 to 6, got 9"),
    ]
    s = make_screen(panel("header", {"x": 0, "y": 0, "w": 8, "h": 1}),
                    {**panel("header", {"x": 7, "y": 0, "w": 1, "h": 2}), "id": "h2"}, grid={"columns": 8})
    assert issues(s) == [(("panels", 1, "at"), "overlaps panel 'p_header' in cells x 7, y 0; move or resize one "
                                               "of them")]


def test_playlist_rules() -> None:
    pl = Playlist.model_validate({"schema_version": 1, "id": "wall", "title": TITLE, "slides": [
        {"screen": "s"}, {"screen": "gone", "dwell_s": 10}, {"screen": "broken"}, {"screen": "s", "params": {"x": "1"}},
    ]})
    assert pl.slides[0].dwell_s == 30
    assert [(i.loc, i.message) for i in playlist_issues(pl, {"s": make_screen(panel("header"))}, ["broken"])] == [
        (("slides", 1, "screen"), "unknown screen 'gone'; known screens: s"),
        (("slides", 2, "screen"), "screen 'broken' has errors of its own; fix its file first"),
        (("slides", 3, "params", "x"), "screen 's' has no param 'x'; its params: none"),
    ]
