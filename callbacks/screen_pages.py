"""The Dash pages of the screens: `/screens/<id>` (one screen) and `/wall/<name>` (a playlist or a screen).

The layout functions run on the server for every page load (Dash Pages' router callback), after the guard
has checked the page rule: here a paired wall is further held to its own screen or playlist.

Hot reload: an open page that hears `screen_changed` sets the `RELAYOUT_ID` store, one of the router's inputs,
so the router runs the layout function again with `relayout` set, and screen.js swaps the new tree in on the
same socket. Invalid files are treated differently by the two kinds of request:
- opening (or reloading) a page whose screen or playlist file now has errors shows those errors, so whoever
  edits the YAML sees what to fix;
- a relayout of an open page keeps the last valid version of every screen, so a wall in front of its audience
  never switches to an error page because a half-typed file was saved.
Each layout is wrapped in a div with a fresh id: Dash keys components by id, so React mounts the new tree
instead of patching the old one, whose nodes screen.js has written into.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from dash import Input, dcc, html
from flask import g

from callbacks.screen_topics import topic_name, wall_topics
from layouts.screen_page import error_page, screen_page
from screens.library import ScreenLibrary, errors_of
from screens.loader import LoadResult

Component = Any

RELAYOUT_ID = "sc-relayout"  # the store screen.js sets to re-run the router (the same name is in screen.js)
RELAYOUT_INPUTS = {"relayout": Input(RELAYOUT_ID, "data")}  # Dash(routing_callback_inputs=...)


def relayout_store() -> dcc.Store:
    """Next to dash.page_container in the app layout, on every page (the router's input must exist)."""
    return dcc.Store(id=RELAYOUT_ID)


def _wall_may_show(screen_ids: list[str], lib: LoadResult) -> bool:
    """Persons with the page permission see any screen; a wall only the screens of its pairing."""
    who = g.get("principal")
    if who is None or who.kind != "wall":
        return True
    allowed = wall_topics(who.scope, lib.playlists)
    return all(topic_name(s) in allowed for s in screen_ids)


def _fresh(page: Component) -> html.Div:
    return html.Div(id=f"sc-render-{secrets.token_hex(6)}", children=page)


def screen_layouts(library: ScreenLibrary, kinds: Mapping[str, str], no_access: Callable[[], Component],
                   names: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None
                   ) -> tuple[Callable[..., Component], Callable[..., Component]]:
    """(screens page, wall page) layout functions over the live screen library; `names` as screen_page takes."""

    def screens_page(screen_id: str = "", lang: str = "zh", kiosk: str = "", relayout: object = None,
                     **_query: str) -> Component:
        lib = library.current  # one version for the whole page, whatever a reload does meanwhile
        screen = lib.screens.get(screen_id)
        errors = errors_of(lib, [screen_id])
        if screen is None or (errors and relayout is None):
            return error_page(errors or [f"no screen '{screen_id}'"], lang)
        if not _wall_may_show([screen_id], lib):
            return no_access()
        return _fresh(screen_page([(screen, {}, None)], lang=lang, kiosk=kiosk == "1", kinds=kinds, names=names))

    def wall_page(name: str = "", lang: str = "zh", kiosk: str = "", relayout: object = None,
                  **_query: str) -> Component:
        who = g.get("principal")
        if who is not None and who.kind == "wall" and not who.shows(name):
            return no_access()
        lib = library.current
        playlist = lib.playlists.get(name)
        if playlist is not None:
            slides = [(lib.screens[s.screen], s.params, s.dwell_s) for s in playlist.slides]
        elif name in lib.screens:
            slides = [(lib.screens[name], {}, None)]
        else:
            slides = []
        errors = errors_of(lib, [name, *(screen.id for screen, _params, _dwell in slides)])
        if not slides or (errors and relayout is None):
            return error_page(errors or [f"no playlist or screen '{name}'"], lang)
        return _fresh(screen_page(slides, lang=lang, kiosk=kiosk == "1", kinds=kinds, names=names))

    return screens_page, wall_page
