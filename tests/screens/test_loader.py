"""The loader's messages are what a wall editor reads: each bad fixture pins file, line, panel, field and text."""

from __future__ import annotations

from pathlib import Path

import pytest

from screens.loader import (
    Catalogue,
    ScreenError,
    format_errors,
    load_all,
    load_playlist,
    load_screen,
    playlist_errors,
    screen_errors,
)
from screens.model import Screen

BAD = Path(__file__).parent / "bad"
CATALOGUE = Catalogue(
    metrics=["passage.on_site", "canteen.meals", "canteen.meals.canteen.{canteen}", "canteen.dish.{dish}",
             "energy.electricity.building.{building}"],
    queries=["daily_counts", "hourly_series", "totals_by_dim"],
)
KNOWN_TYPES = "kpi, trend, ranking, donut, gauge, heatmap, map, alarm_ticker, event_table, header"
KPI_KEYS = ("id, type, title, at, unit, format, thresholds, expect_every_s, drill, privacy, bind, per, compare, "
            "sparkline, bucket_min")

EXPECTED = {
    "syntax_error": "bad/syntax_error.yaml:9: YAML syntax error: expected ',' or '}', but got ':' (while parsing a "
                    "flow mapping that starts on line 8); check indentation, colons and quotes",
    "unknown_key": "bad/unknown_key.yaml:10: panel 'people_on_site': thresold: unknown key 'thresold'; did you mean "
                   f"'thresholds'? allowed keys: {KPI_KEYS}",
    "unknown_type": f"bad/unknown_type.yaml:10: panel 'meals_pie': type: unknown panel type 'pie'; known types: "
                    f"{KNOWN_TYPES}",
    "missing_field": "bad/missing_field.yaml:5: panel 'people_on_site': bind: required key is missing; add it, "
                     "e.g. bind: {live: passage.on_site}",
    "out_of_range": "bad/out_of_range.yaml:17: panel 'meals_today': at.w: expected an integer from 1 to 24, got 30",
    "wrong_version": "bad/wrong_version.yaml:1: schema_version: unsupported version 2; supported versions: 1",
    "duplicate_id": "bad/duplicate_id.yaml:10: panel 'people_on_site': id: duplicate panel id 'people_on_site' "
                    "(panels[0] has it already); panel ids must be unique within a screen",
    "overlap": "bad/overlap.yaml:13: panel 'meals_today': at: overlaps panel 'people_on_site' in cells x 4..5, "
               "y 2..3; move or resize one of them",
    "outside_grid": "bad/outside_grid.yaml:9: panel 'people_on_site': at: x 20 + w 6 reaches past the grid's 24 "
                    "columns; make w at most 4 or x at most 18",
    "unknown_binding": "bad/unknown_binding.yaml:9: panel 'people_on_site': bind.live: unknown metric "
                       "'passage.onsite'; did you mean 'passage.on_site'?",
    "url_overlay": "bad/url_overlay.yaml:10: panel 'positions': overlay: expected a GeoJSON file under screens/, got "
                   "the URL 'https://tiles.example.com/compound.png'; walls run offline: save the file under "
                   "screens/maps/ and give its path, like 'maps/compound.geojson'",
    "stem_mismatch": "bad/stem_mismatch.yaml:2: id: 'overview_copy' differs from the file name 'stem_mismatch.yaml'; "
                     "rename the file to 'overview_copy.yaml' or set id: stem_mismatch",
}
UNKNOWN_QUERY = ("bad/unknown_binding.yaml:15: panel 'meals_week': bind.query: unknown query 'total_by_dim'; "
                 "did you mean 'totals_by_dim'? known queries: daily_counts, hourly_series, totals_by_dim")
UNKNOWN_SCREEN = ("bad/playlist_unknown_screen.yaml:6: slides[1].screen: unknown screen 'overveiw'; "
                  "did you mean 'overview'? known screens: energy, overview")

GOOD = """\
schema_version: 1
id: {id}
title: {{zh: 测试, en: Test}}
params: {{building: B01}}
panels:
  - id: people_on_site
    type: kpi
    title: {{zh: 在院人数, en: People on site}}
    at: {{x: 0, y: 0, w: 6, h: 3}}
    bind: {{live: passage.on_site}}
"""
HEADER_ONLY = "panels:\n  - {id: h, type: header, title: {zh: 甲, en: A}, at: {x: 0, y: 0, w: 24, h: 1}}\n"


def screen(screen_id: str, params: dict[str, str] | None = None) -> Screen:
    """A minimal valid screen, for playlists to point at."""
    return Screen.model_validate({
        "schema_version": 1, "id": screen_id, "title": {"zh": "测试", "en": "Test"}, "params": params or {},
        "panels": [{"id": "h", "type": "header", "title": {"zh": "标题", "en": "Title"},
                    "at": {"x": 0, "y": 0, "w": 24, "h": 1}}],
    })


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_screen_raises_its_exact_message(name: str) -> None:
    with pytest.raises(ScreenError) as info:
        load_screen(BAD / f"{name}.yaml", CATALOGUE)
    assert str(info.value) == EXPECTED[name]


def test_every_bad_fixture_is_pinned() -> None:
    assert {p.stem for p in BAD.glob("*.yaml")} == set(EXPECTED) | {"playlist_unknown_screen"}


def test_a_bad_file_reports_every_problem_sorted_by_line() -> None:
    _, errors = screen_errors(BAD / "unknown_binding.yaml", CATALOGUE)
    assert [str(e) for e in errors] == [EXPECTED["unknown_binding"], UNKNOWN_QUERY]


def test_error_carries_file_line_panel_field_and_message() -> None:
    with pytest.raises(ScreenError) as info:
        load_screen(BAD / "out_of_range.yaml", CATALOGUE)
    assert info.value == ScreenError(file="bad/out_of_range.yaml", line=17, panel="meals_today",
                                     field="panels[2].at.w", message="expected an integer from 1 to 24, got 30")
    assert isinstance(info.value, Exception)


def test_error_without_a_panel_keeps_the_full_field() -> None:
    err = ScreenError("screens/x.yaml", 4, None, "panels[3].at", "expected a mapping of keys, got 'a'")
    assert str(err) == "screens/x.yaml:4: panels[3].at: expected a mapping of keys, got 'a'"


def test_playlist_with_unknown_screen() -> None:
    with pytest.raises(ScreenError) as info:
        load_playlist(BAD / "playlist_unknown_screen.yaml",
                      {"overview": screen("overview"), "energy": screen("energy")})
    assert str(info.value) == UNKNOWN_SCREEN


def test_playlist_params_must_be_declared_by_the_screen(tmp_path: Path) -> None:
    path = write(tmp_path / "playlists" / "wall.yaml", """\
schema_version: 1
id: wall
title: {zh: 轮播, en: Wall}
slides:
  - {screen: energy, dwell_s: 20, params: {building: B02}}
  - {screen: overview, dwell_s: 2, params: {building: B02}}
""")
    _, errors = playlist_errors(path, {"overview": screen("overview"), "energy": screen("energy", {"building": "B01"})})
    assert [str(e) for e in errors] == [
        "playlists/wall.yaml:6: slides[1].dwell_s: expected an integer from 5 to 3600, got 2",
    ]
    path.write_text(path.read_text().replace("dwell_s: 2,", "dwell_s: 20,"))
    _, errors = playlist_errors(path, {"overview": screen("overview"), "energy": screen("energy", {"building": "B01"})})
    assert [str(e) for e in errors] == [
        "playlists/wall.yaml:6: slides[1].params.building: screen 'overview' has no param 'building'; its params: none",
    ]
    playlist = load_playlist(path, {"overview": screen("overview", {"building": "B01"}),
                                    "energy": screen("energy", {"building": "B01"})})
    assert [(s.screen, s.dwell_s, s.params) for s in playlist.slides] == [
        ("energy", 20, {"building": "B02"}), ("overview", 20, {"building": "B02"})]


def test_load_all_keeps_valid_screens_and_collects_errors(tmp_path: Path) -> None:
    folder = tmp_path / "screens"
    write(folder / "good.yaml", GOOD.format(id="good"))
    write(folder / "overlap.yaml", (BAD / "overlap.yaml").read_text(encoding="utf-8"))
    write(folder / "old.yml", GOOD.format(id="old"))
    write(folder / "playlists" / "wall.yaml", """\
schema_version: 1
id: wall
title: {zh: 轮播, en: Wall}
slides:
  - {screen: good}
  - {screen: overlap}
  - {screen: goood}
""")
    write(folder / "playlists" / "lobby.yaml", """\
schema_version: 1
id: lobby
title: {zh: 大厅, en: Lobby}
slides:
  - {screen: good, dwell_s: 15, params: {building: B03}}
""")
    result = load_all(folder, CATALOGUE)
    assert list(result.screens) == ["good"]
    assert list(result.playlists) == ["lobby"]
    assert result.playlists["lobby"].slides[0].params == {"building": "B03"}
    assert result.screens["good"].panels[0].id == "people_on_site"
    assert [str(e) for e in result.errors] == [
        "screens/old.yml:1: screen files end in .yaml; rename it to 'old.yaml'",
        "screens/overlap.yaml:13: panel 'meals_today': at: overlaps panel 'people_on_site' in cells x 4..5, y 2..3; "
        "move or resize one of them",
        "screens/playlists/wall.yaml:6: slides[1].screen: screen 'overlap' has errors of its own; fix its file first",
        "screens/playlists/wall.yaml:7: slides[2].screen: unknown screen 'goood'; did you mean 'good'? "
        "known screens: good",
    ]


def test_load_all_on_an_empty_folder(tmp_path: Path) -> None:
    result = load_all(tmp_path, CATALOGUE)
    assert (result.screens, result.playlists, result.errors) == ({}, {}, [])


@pytest.mark.parametrize(("text", "expected"), [
    ("", "x/s.yaml:1: expected a mapping of keys, starting with 'schema_version: 1', got nothing"),
    ("- a\n- b\n", "x/s.yaml:1: expected a mapping of keys, starting with 'schema_version: 1', got a list"),
    ("id: s\ntitle: {zh: 甲, en: A}\n",
     "x/s.yaml:1: missing schema_version; start the screen with 'schema_version: 1' (supported versions: 1)"),
    ("schema_version: '1'\n", "x/s.yaml:1: schema_version: unsupported version '1'; supported versions: 1"),
    ("schema_version: 1\nid: s\ntitle: {zh: 甲, en: A}\ntitle: {zh: 乙, en: B}\n" + HEADER_ONLY,
     "x/s.yaml:4: title: key 'title' appears twice (first on line 3); keep one"),
    ("schema_version: 1\nid: s\ntitle: {zh: 甲}\npanels: []\n",
     "x/s.yaml:3: title.en: required key is missing; add it, e.g. en: Overview"),
    ("schema_version: 1\nid: s\ntitle: {zh: 甲, en: A}\npanels: []\n",
     "x/s.yaml:4: panels: expected at least 1 item(s), got 0"),
    ("schema_version: 1\nid: s\ntitle: {zh: 甲, en: A}\ntheme: light\npanels: []\n",
     "x/s.yaml:4: theme: expected one of dark; got 'light'"),
    ("schema_version: 1\nid: s\ntitle: {zh: 甲, en: A}\npanels:\n  - {id: p, title: {zh: 甲, en: A}}\n",
     f"x/s.yaml:5: panel 'p': type: missing key 'type'; known types: {KNOWN_TYPES}"),
    ("schema_version: 1\nid: s\ntitle: {zh: 甲, en: A}\npanels:\n  - kpi\n",
     "x/s.yaml:5: panels[0]: expected a mapping of keys, got 'kpi'"),
])
def test_file_level_problems(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "x" / "s.yaml", text)
    with pytest.raises(ScreenError) as info:
        load_screen(path, CATALOGUE)
    assert str(info.value) == expected


def test_nested_fields_point_at_their_own_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x" / "s.yaml", """\
schema_version: 1
id: s
title: {zh: 甲, en: A}
panels:
  - id: flow
    type: trend
    title: {zh: 甲, en: A}
    at: {x: 0, y: 0, w: 12, h: 4}
    series:
      - label: {zh: 进, en: In}
        bind: {live: passage.on_site}
      - label: {zh: 出, en: Out}
        bind:
          live: canteen.meals.canteen.CT1
          query: daily_counts
    style: bars
""")
    _, errors = screen_errors(path, CATALOGUE)
    assert [str(e) for e in errors] == [
        "x/s.yaml:13: panel 'flow': series[1].bind: give exactly one of 'live: <metric key>' or 'query: <query name>'",
        "x/s.yaml:16: panel 'flow': style: expected one of line, area; got 'bars'",
    ]


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x" / "s.yaml"
    path.parent.mkdir()
    path.write_bytes("title: 综合态势\n".encode("gbk"))
    with pytest.raises(ScreenError) as info:
        load_screen(path, CATALOGUE)
    assert str(info.value) == "x/s.yaml:1: the file is not UTF-8 text; save it as UTF-8"


def test_root_names_files_relative_to_it(tmp_path: Path) -> None:
    path = write(tmp_path / "walls" / "screens" / "s.yaml", "schema_version: 3\n")
    with pytest.raises(ScreenError) as info:
        load_screen(path, CATALOGUE, root=tmp_path)
    assert info.value.file == "walls/screens/s.yaml"


def test_format_errors() -> None:
    errors = [
        ScreenError("screens/b.yaml", 3, None, "id", "'x' differs from the file name 'b.yaml'"),
        ScreenError("screens/a.yaml", 9, "p", "panels[1].at.w", "expected an integer from 1 to 24, got 30"),
        ScreenError("screens/a.yaml", 2, None, None, "YAML syntax error: boom"),
    ]
    assert format_errors(errors) == (
        "screens/a.yaml:2: YAML syntax error: boom\n"
        "screens/a.yaml:9: panel 'p': at.w: expected an integer from 1 to 24, got 30\n"
        "screens/b.yaml:3: id: 'x' differs from the file name 'b.yaml'\n"
        "3 error(s) in 2 file(s)"
    )
    assert format_errors([]) == "no errors"
