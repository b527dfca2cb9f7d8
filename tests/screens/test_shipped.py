"""The shipped walls load with zero errors against the real metric catalogue, and the leadership playlist shows all.

Tests may import analytics; screens/ may not, so the catalogue is built here the way app.py builds it.
"""

from __future__ import annotations

from warehouse.panel_queries import NAMED_QUERIES

from pathlib import Path

import pytest

import analytics.metrics  # noqa: F401 - importing registers every metric
from analytics.deltas import metrics
from screens.loader import Catalogue, LoadResult, format_errors, load_all
from screens.model import AlarmTickerPanel, HeaderPanel, KpiPanel

SCREENS = Path(__file__).resolve().parents[2] / "screens"
QUERIES = NAMED_QUERIES  # with their binding checks
SHIPPED = ["canteen", "energy", "overview", "property", "security", "vehicles"]


@pytest.fixture(scope="module")
def loaded() -> LoadResult:
    return load_all(SCREENS, Catalogue(metrics(), QUERIES))


def test_every_shipped_file_loads_without_errors(loaded: LoadResult) -> None:
    assert format_errors(loaded.errors) == "no errors"
    assert sorted(loaded.screens) == SHIPPED
    assert sorted(loaded.playlists) == ["leadership"]


def test_the_leadership_playlist_rotates_all_six_screens(loaded: LoadResult) -> None:
    slides = loaded.playlists["leadership"].slides
    assert sorted(s.screen for s in slides) == SHIPPED
    assert slides[0].screen == "overview" and slides[0].dwell_s >= max(s.dwell_s for s in slides[1:])


@pytest.mark.parametrize("screen_id", SHIPPED)
def test_a_leadership_layout(loaded: LoadResult, screen_id: str) -> None:
    """Header across the top, 4 to 6 KPI cards, an alarm ticker, every cell of the 1920x1080 wall used once."""
    s = loaded.screens[screen_id]
    assert (s.design.width, s.design.height, s.grid.columns, s.grid.rows) == (1920, 1080, 24, 12)
    header = s.panels[0]
    assert isinstance(header, HeaderPanel) and (header.at.x, header.at.y, header.at.w) == (0, 0, 24)
    assert 4 <= sum(isinstance(p, KpiPanel) for p in s.panels) <= 6
    assert any(isinstance(p, AlarmTickerPanel) for p in s.panels)
    assert sum(p.at.w * p.at.h for p in s.panels) == 24 * 12  # no overlaps (the loader checks) and no holes
    assert all(p.title.zh and p.title.en for p in s.panels)


def test_validate_screens_command_reports_the_shipped_files_valid(capsys) -> None:  # type: ignore[no-untyped-def]
    import app

    assert app.cmd_validate_screens() == 0
    assert capsys.readouterr().out.strip() == "6 screen(s) and 1 playlist(s) valid"
