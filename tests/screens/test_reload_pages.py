"""What a screen reload does to push topics and page layouts: the screen topics are swapped whole (the overview
topic stays), and the layout functions show a broken file's errors to whoever opens the page but keep the last
valid version for an open page's relayout."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g

import analytics.metrics  # noqa: F401 - importing registers every metric
from analytics.deltas import metrics
from auth.access import Principal
from callbacks.screen_pages import screen_layouts
from callbacks.screen_topics import screen_topic, sync_screen_topics
from layouts.screen_page import ERROR_PAGE_ID, PAGE_ID
from screens.library import ScreenLibrary
from screens.loader import Catalogue
from streams.topics import TOPICS, Topic, replace_topics
from warehouse.panel_queries import NAMED_QUERIES

SHIPPED = Path(__file__).resolve().parents[2] / "screens"
KINDS = {name: info.kind for name, info in metrics().items()}


@pytest.fixture
def topics() -> Iterator[dict[str, Topic]]:
    """The process-wide registry, restored after the test."""
    saved = dict(TOPICS)
    yield TOPICS
    TOPICS.clear()
    TOPICS.update(saved)


@pytest.fixture
def library(tmp_path: Path) -> ScreenLibrary:
    copy = tmp_path / "walls"
    shutil.copytree(SHIPPED, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return ScreenLibrary(copy, Catalogue(metrics(), NAMED_QUERIES))


def reload(library: ScreenLibrary) -> None:
    library.reload_if_changed()
    assert library.reload_if_changed() is not None


def test_replacing_screen_topics_swaps_them_and_keeps_the_others(topics: dict[str, Topic]) -> None:
    overview = topics["overview"]
    replace_topics("screen:", [Topic("screen:a", sums=("canteen.meals",)), Topic("screen:b")])
    replace_topics("screen:", [Topic("screen:a", sums=("canteen.pay.card",)), Topic("screen:c")])
    assert {n for n in topics if n.startswith("screen:")} == {"screen:a", "screen:c"}
    assert topics["screen:a"].sums == ("canteen.pay.card",) and topics["overview"] is overview
    with pytest.raises(ValueError, match=r"topics \['overview'\] do not start with 'screen:'"):
        replace_topics("screen:", [Topic("overview")])


def test_a_reloaded_binding_changes_the_screen_topic(topics: dict[str, Topic], library: ScreenLibrary) -> None:
    sync_screen_topics(library.screens.values(), KINDS)
    assert not topics["screen:overview"].wants("sums", "canteen.pay.card")
    path = library.folder / "overview.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("passage.visitors", "canteen.pay.card"), encoding="utf-8")
    (library.folder / "vehicles.yaml").unlink()
    reload(library)
    sync_screen_topics(library.screens.values(), KINDS)
    assert topics["screen:overview"] == screen_topic(library.screens["overview"], KINDS)
    assert topics["screen:overview"].wants("sums", "canteen.pay.card")
    assert "screen:vehicles" not in topics and "overview" in topics


def ids(component: Any) -> list[str]:
    """Ids from the root down the first child: the wrapper, then #sc-page (or the error page)."""
    out = []
    while component is not None and getattr(component, "id", None) is not None:
        out.append(component.id)
        children = getattr(component, "children", None)
        component = children[0] if isinstance(children, list) and children else children
    return out


@pytest.fixture
def pages(library: ScreenLibrary) -> Iterator[tuple[Any, Any]]:
    app = Flask(__name__)
    with app.test_request_context():
        g.principal = Principal(kind="person", name="viewer")
        yield screen_layouts(library, KINDS, lambda: "no access")


def test_every_render_is_a_new_tree_for_react(pages: tuple[Any, Any]) -> None:
    screens_page, _ = pages
    first, second = ids(screens_page("canteen")), ids(screens_page("canteen", relayout=1))
    assert first[0].startswith("sc-render-") and first[1] == PAGE_ID and second[1] == PAGE_ID
    assert first[0] != second[0], "an equal id would let React patch the old, script-written nodes"


def test_a_broken_file_shows_its_errors_when_opened_but_not_to_an_open_page(library: ScreenLibrary,
                                                                            pages: tuple[Any, Any]) -> None:
    screens_page, wall_page = pages
    path = library.folder / "canteen.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("type: kpi", "type: kpii", 1), encoding="utf-8")
    reload(library)
    opened = screens_page("canteen")
    assert ids(opened) == [ERROR_PAGE_ID] and "kpii" in str(opened)
    assert ids(wall_page("leadership")) == [ERROR_PAGE_ID], "a playlist showing the broken screen too"
    assert ids(screens_page("canteen", relayout=3))[1:] == [PAGE_ID], "an open wall keeps the last valid version"
    assert ids(wall_page("leadership", relayout=3))[1:] == [PAGE_ID]
    assert ids(screens_page("overview"))[1:] == [PAGE_ID], "every valid screen is still served"


def test_a_deleted_screen_is_gone_for_an_open_page_too(library: ScreenLibrary, pages: tuple[Any, Any]) -> None:
    screens_page, _ = pages
    (library.folder / "energy.yaml").unlink()
    reload(library)
    gone = screens_page("energy", relayout=1)
    assert ids(gone) == [ERROR_PAGE_ID] and "no screen 'energy'" in str(gone)
