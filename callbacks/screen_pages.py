"""The Dash pages of the screens: `/screens/<id>` (one screen) and `/wall/<name>` (a playlist or a screen).

The layout functions run on the server for every page load (Dash Pages' router callback), after the guard
has checked the page rule: here a paired wall is further held to its own screen or playlist, and a screen
whose file failed validation shows its errors instead of a blank wall.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import g

from callbacks.screen_topics import topic_name, wall_topics
from layouts.screen_page import error_page, screen_page

Component = Any


def _wall_may_show(screen_ids: list[str], library: Any) -> bool:
    """Persons with the page permission see any screen; a wall only the screens of its pairing."""
    who = g.get("principal")
    if who is None or who.kind != "wall":
        return True
    allowed = wall_topics(who.scope, library.playlists)
    return all(topic_name(s) in allowed for s in screen_ids)


def _errors_of(library: Any, name: str) -> list[Any]:
    return [e for e in library.errors if Path(e.file).stem == name]


def screen_layouts(library: Any, kinds: Mapping[str, str], no_access: Callable[[], Component]
                   ) -> tuple[Callable[..., Component], Callable[..., Component]]:
    """(screens page, wall page) layout functions over the loaded screen library."""

    def screens_page(screen_id: str = "", lang: str = "zh", kiosk: str = "", **_query: str) -> Component:
        screen = library.screens.get(screen_id)
        if screen is None:
            return error_page(_errors_of(library, screen_id) or [f"no screen '{screen_id}'"], lang)
        if not _wall_may_show([screen_id], library):
            return no_access()
        return screen_page([(screen, {}, None)], lang=lang, kiosk=kiosk == "1", kinds=kinds)

    def wall_page(name: str = "", lang: str = "zh", kiosk: str = "", **_query: str) -> Component:
        who = g.get("principal")
        if who is not None and who.kind == "wall" and not who.shows(name):
            return no_access()
        playlist = library.playlists.get(name)
        if playlist is not None:
            slides = [(library.screens[s.screen], s.params, s.dwell_s) for s in playlist.slides]
        elif name in library.screens:
            slides = [(library.screens[name], {}, None)]
        else:
            return error_page(_errors_of(library, name) or [f"no playlist or screen '{name}'"], lang)
        return screen_page(slides, lang=lang, kiosk=kiosk == "1", kinds=kinds)

    return screens_page, wall_page
