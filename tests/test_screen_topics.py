"""Screen topics: what each shipped screen's push topic carries follows from its bindings and the catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

import analytics.metrics  # noqa: F401 - registers the metric catalogue
from analytics.deltas import metrics
from callbacks.screen_topics import screen_topic, wall_topics
from screens.rules import kind_of
from screens.loader import Catalogue, load_all
from warehouse.panel_queries import NAMED_QUERIES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lib():  # type: ignore[no-untyped-def]
    result = load_all(ROOT / "screens", Catalogue(metrics(), NAMED_QUERIES))
    assert result.errors == []
    return result


@pytest.fixture(scope="module")
def kinds() -> dict[str, str]:
    return {name: info.kind for name, info in metrics().items()}


def test_kinds_of_names_members_and_parameterised_families(kinds: dict[str, str]) -> None:
    assert kind_of("canteen.meals", kinds) == "sum"
    assert kind_of("passage.on_site", kinds) == "level"
    assert kind_of("canteen.meals.canteen.CT1", kinds) == "sum", "a member of canteen.meals.canteen.{canteen}"
    assert kind_of("canteen.meals.canteen.{hall}", kinds) == "sum", "a family under another placeholder name"
    assert kind_of("canteen.nothing", kinds) is None


def test_the_overview_topic_carries_its_kpis(lib, kinds: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    topic = screen_topic(lib.screens["overview"], kinds)
    assert topic.name == "screen:overview"
    assert "canteen.meals" in topic.sums and "canteen.meals" in topic.series, "a sparkline needs minute series"
    assert "canteen.meals" in topic.compare, "compare: [same_day_last_week]"
    assert "passage.on_site" in topic.levels and "passage.on_site" not in topic.sums
    assert topic.wants("sums", "canteen.meals") and not topic.wants("sums", "energy.water")
    assert topic.wants("levels", "security.open.high"), "the alarm ticker shows open alarms by severity"


def test_every_shipped_screen_has_a_topic_with_something_to_push(lib, kinds: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for screen in lib.screens.values():
        topic = screen_topic(screen, kinds)
        assert topic.sums or topic.levels or topic.lasts, screen.id
        assert all("{" not in p for p in (*topic.sums, *topic.levels, *topic.lasts)), "placeholders become *"


def test_walls_see_the_screens_of_their_playlist_or_their_one_screen(lib) -> None:  # type: ignore[no-untyped-def]
    leadership = wall_topics("playlist:leadership", lib.playlists)
    assert {f"screen:{s.screen}" for s in lib.playlists["leadership"].slides} <= leadership
    assert wall_topics("screen:energy", lib.playlists) == {"overview", "screen:energy"}
    assert wall_topics("playlist:none", lib.playlists) == {"overview"}
