"""Screens and playlists of the walls, as data: YAML files, their strict schema and the loader.

A screen file `screens/<id>.yaml` (schema_version 1) names its design size, a 24-column grid and
its panels; each panel has a `type` (kpi, trend, ranking, donut, gauge, heatmap, map,
alarm_ticker, event_table, header), a bilingual title, a place `at: {x, y, w, h}` in grid cells and
a binding to a live metric (`bind: {live: passage.on_site}`) or a named query
(`bind: {query: daily_counts, params: {...}}`). A playlist `screens/playlists/<id>.yaml` rotates
screens with a dwell time per slide. This package imports nothing else of ours: what may be bound
is passed in as a `Catalogue`, so the schema stays testable without the analytics or Dash.
"""

from screens.loader import Catalogue, LoadResult, ScreenError, format_errors, load_all, load_playlist, load_screen
from screens.model import Playlist, Screen

__all__ = [
    "Catalogue", "LoadResult", "Playlist", "Screen", "ScreenError", "format_errors", "load_all", "load_playlist",
    "load_screen",
]
