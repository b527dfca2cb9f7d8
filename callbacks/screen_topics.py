"""The push topic of each screen, derived from its panels' live bindings.

A screen subscribes to one topic, `screen:<id>`, so a wall gets one combined message per flush for all
its panels. The worker's pusher and the web process register the same topics from the same YAML files;
what a topic carries follows from the bindings and the metric catalogue (sum, level or last), so adding a
panel to a screen never needs Python, nor a restart: a reloaded screen replaces its topic in both processes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from screens.model import AlarmTickerPanel, HeatmapPanel, KpiPanel, Playlist, Screen, TrendPanel
from screens.rules import kind_of
from streams.topics import Topic, replace_topics

_PLACEHOLDER = re.compile(r"\{[a-z][a-z0-9_]*\}")
ALARM_LEVELS = "security.open.*"  # what an alarm ticker shows until alarms have their own stream


def topic_name(screen_id: str) -> str:
    return f"screen:{screen_id}"


def _bindings(panel: object) -> Iterator[str]:
    """Every live metric key a panel binds (its value, a divisor, series and slices)."""
    for attr in ("bind", "per", "max_from"):
        b = getattr(panel, attr, None)
        if b is not None and b.live:
            yield b.live
    for attr in ("series", "slices"):
        for s in getattr(panel, attr, None) or ():
            if s.bind.live:
                yield s.bind.live


def screen_topic(screen: Screen, kinds: Mapping[str, str]) -> Topic:
    """What `screen:<id>` carries: today's totals, minute series, levels and newest values of its bindings."""
    sums: set[str] = set()
    series: set[str] = set()
    compare: set[str] = set()
    levels: set[str] = set()
    lasts: set[str] = set()
    minutes = 60
    for panel in screen.panels:
        if isinstance(panel, AlarmTickerPanel):
            levels.add(ALARM_LEVELS)
        wants_series = isinstance(panel, TrendPanel | HeatmapPanel) or (isinstance(panel, KpiPanel) and panel.sparkline)
        if isinstance(panel, TrendPanel):
            minutes = max(minutes, panel.window_min)
        if isinstance(panel, HeatmapPanel):
            minutes = 1440  # hour x row cells of the whole day
        for key in _bindings(panel):
            pattern = _PLACEHOLDER.sub("*", key)
            kind = kind_of(key, kinds)
            if kind == "sum":
                sums.add(pattern)
                if wants_series:
                    series.add(pattern)
                if isinstance(panel, KpiPanel) and panel.compare:
                    compare.add(pattern)
            elif kind == "level":
                levels.add(pattern)
            elif kind == "last":
                lasts.add(pattern)
    return Topic(topic_name(screen.id), sums=tuple(sorted(sums)), series=tuple(sorted(series)),
                 levels=tuple(sorted(levels)), lasts=tuple(sorted(lasts)), compare=tuple(sorted(compare)),
                 series_minutes=minutes)


def screen_topics(screens: Iterable[Screen], kinds: Mapping[str, str]) -> list[Topic]:
    return [screen_topic(s, kinds) for s in screens]


def sync_screen_topics(screens: Iterable[Screen], kinds: Mapping[str, str]) -> None:
    """Register exactly the topics of `screens` (at start and after every screen reload, in the worker and in
    the web process): changed bindings take effect at the next flush, a removed screen's topic goes away,
    and topics that are not screens' (`overview`) stay."""
    replace_topics(topic_name(""), screen_topics(screens, kinds))


def wall_topics(scope: str, playlists: Mapping[str, Playlist]) -> frozenset[str]:
    """The topics a wall paired to `scope` may subscribe to: its screen, or the screens of its playlist
    (plus the interim live overview that /wall/<name> shows until the screen renderer lands)."""
    kind, _, name = scope.partition(":")
    if kind == "screen":
        screens = {name}
    elif kind == "playlist" and name in playlists:
        screens = {slide.screen for slide in playlists[name].slides}
    else:
        screens = set()
    return frozenset({"overview", *(topic_name(s) for s in screens)})
