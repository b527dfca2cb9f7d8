"""Hot reload of the screen library (screens/library.py) on a copy of the shipped screens: a change is loaded once
it has held for one poll, an invalid edit keeps the last valid version serving and reports its errors, a deleted
file is removed, a new file is added, and `notify` names the screens whose open pages must re-render."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

import analytics.metrics  # noqa: F401 - importing registers every metric
from analytics.deltas import metrics
from screens.library import Change, ScreenLibrary, errors_of
from screens.loader import Catalogue
from warehouse.panel_queries import NAMED_QUERIES

SHIPPED = Path(__file__).resolve().parents[2] / "screens"
CATALOGUE = Catalogue(metrics(), NAMED_QUERIES)
LEADERSHIP = frozenset({"overview", "canteen", "security", "energy", "vehicles", "property"})
LOBBY = """schema_version: 1
id: lobby
title: {zh: 大厅屏, en: Lobby}
panels:
  - id: meals_today
    type: kpi
    title: {zh: 今日就餐, en: Meals today}
    at: {x: 0, y: 0, w: 6, h: 3}
    bind: {live: canteen.meals}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "walls"
    shutil.copytree(SHIPPED, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def settled(lib: ScreenLibrary) -> Change | None:
    """Two polls: the first sees the new fingerprint, the second loads it (it held for one poll)."""
    assert lib.reload_if_changed() is None, "a change is not loaded on the poll that first sees it"
    return lib.reload_if_changed()


def test_an_unchanged_folder_is_not_loaded_again(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    before = lib.current
    assert [lib.reload_if_changed() for _ in range(3)] == [None, None, None]
    assert lib.current is before and lib.version == 1


def test_an_edited_title_and_binding_are_loaded_and_bump_the_version(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    old_canteen = lib.screens["canteen"]
    edit(folder / "overview.yaml", "{zh: 今日就餐, en: Meals today}", "{zh: 今日就餐人次, en: Meals served today}")
    edit(folder / "overview.yaml", "bind: {live: passage.visitors}", "bind: {live: canteen.pay.card}")
    change = settled(lib)
    assert change == Change(version=2, screens=frozenset({"overview"}), playlists=frozenset(),
                            notify=frozenset({"overview"}))
    panels = {p.id: p for p in lib.screens["overview"].panels}
    assert panels["meals_today"].title.zh == "今日就餐人次"
    assert panels["visitors_today"].bind.live == "canteen.pay.card"  # type: ignore[union-attr]
    assert lib.version == 2 and lib.screens["canteen"] == old_canteen and lib.errors == []
    assert lib.reload_if_changed() is None


def test_a_file_rewritten_between_polls_waits_until_it_holds(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    path = folder / "overview.yaml"
    edit(path, "{zh: 在院人数, en: People on site}", "{zh: 在院人, en: People on site}")
    assert lib.reload_if_changed() is None
    edit(path, "{zh: 在院人, en: People on site}", "{zh: 在院人数（实时）, en: People on site}")  # still being written
    assert lib.reload_if_changed() is None, "a fingerprint that did not hold for one poll is not loaded"
    change = lib.reload_if_changed()
    assert change is not None and change.screens == {"overview"}
    assert lib.screens["overview"].panels[1].title.zh == "在院人数（实时）"


def test_an_invalid_edit_keeps_the_last_valid_version_and_reports_its_errors(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    served = lib.screens["canteen"]
    edit(folder / "canteen.yaml", "at: {x: 0, y: 1, w: 4, h: 3}", "at: {x: 0, y: 1, w: 4, h:")  # half-typed save
    change = settled(lib)
    assert change == Change(version=1, screens=frozenset(), playlists=frozenset(), notify=frozenset())
    assert lib.screens["canteen"] is served, "the wall keeps the last valid canteen screen"
    assert lib.playlists["leadership"].slides[1].screen == "canteen", "and the playlist that shows it"
    mine = errors_of(lib.current, ["canteen"])
    assert [str(e) for e in mine] == [
        "walls/canteen.yaml:17: YAML syntax error: expected ',' or '}', but got ':' (while parsing a "
        "flow mapping that starts on line 16); check indentation, colons and quotes"]
    assert [str(e) for e in errors_of(lib.current, ["leadership"])] == [
        "walls/playlists/leadership.yaml:7: slides[1].screen: screen 'canteen' has errors of its own; fix its file "
        "first"]
    assert "walls/canteen.yaml" in {e.file for e in lib.errors} and lib.version == 1

    edit(folder / "canteen.yaml", "at: {x: 0, y: 1, w: 4, h:", "at: {x: 0, y: 1, w: 4, h: 3}")  # fixed
    change = settled(lib)
    assert change is not None and not change.screens and lib.errors == []
    assert lib.screens["canteen"] == served


def test_an_invalid_new_screen_is_not_served_and_its_errors_are_reported(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    (folder / "lobby.yaml").write_text(LOBBY.replace("canteen.meals", "canteen.mealz"), encoding="utf-8")
    change = settled(lib)
    assert change is not None and not change.screens and "lobby" not in lib.screens
    messages = [e.message for e in errors_of(lib.current, ["lobby"])]
    # the suggestions after the first depend on which test schemas have registered metrics in this process
    assert len(messages) == 1 and messages[0].startswith("unknown metric 'canteen.mealz'; did you mean 'canteen.meals'")


def test_a_new_file_is_added_and_can_be_paired(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    view = lib.scope_view()
    assert "screen:lobby" not in view
    (folder / "lobby.yaml").write_text(LOBBY, encoding="utf-8")
    change = settled(lib)
    assert change == Change(version=2, screens=frozenset({"lobby"}), playlists=frozenset(),
                            notify=frozenset({"lobby"}))
    assert "screen:lobby" in view and "screen:lobby" in set(view) and len(view) == 8, "the view follows reloads"


def test_a_deleted_screen_is_removed_with_the_playlist_that_shows_it(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    (folder / "vehicles.yaml").unlink()
    change = settled(lib)
    assert change == Change(version=2, screens=frozenset({"vehicles"}), playlists=frozenset({"leadership"}),
                            notify=LEADERSHIP)
    assert "vehicles" not in lib.screens and "leadership" not in lib.playlists
    assert [e.message for e in errors_of(lib.current, ["leadership"])] == [
        "unknown screen 'vehicles'; known screens: canteen, energy, overview, property, security"]


def test_a_playlist_edit_notifies_the_screens_it_showed_and_shows(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    (folder / "lobby.yaml").write_text(LOBBY, encoding="utf-8")
    edit(folder / "playlists" / "leadership.yaml", "  - {screen: property, dwell_s: 30}",
         "  - {screen: lobby, dwell_s: 15}")
    change = settled(lib)
    assert change is not None and change.playlists == {"leadership"} and change.notify == LEADERSHIP | {"lobby"}
    assert [s.screen for s in lib.playlists["leadership"].slides][-1] == "lobby"


def test_watch_calls_back_after_a_reload_that_changed_what_is_served(folder: Path) -> None:
    lib = ScreenLibrary(folder, CATALOGUE)
    seen: list[Change] = []
    stop = threading.Event()

    def on_change(change: Change) -> None:
        seen.append(change)
        stop.set()

    worker = threading.Thread(target=lib.watch, args=(on_change, stop, 0.01))
    worker.start()
    (folder / "lobby.yaml").write_text(LOBBY, encoding="utf-8")
    worker.join(timeout=30)
    assert not worker.is_alive() and [c.screens for c in seen] == [frozenset({"lobby"})]
