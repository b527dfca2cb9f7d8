"""Push topics: which live metrics a room receives, and the snapshot/update messages.

A topic names metric patterns; a page subscribes to topics and gets one snapshot (resync)
then combined partial updates. Screens defined in YAML will register their own topics from
their panels' bindings; the first live page uses `overview`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from analytics.compare import compare
from domain.calendar import default_calendar
from streams.live_state import LiveState


@dataclass(frozen=True)
class Topic:
    name: str
    sums: tuple[str, ...] = ()  # today's totals of these sum metrics
    series: tuple[str, ...] = ()  # per-minute buckets of these sum metrics
    levels: tuple[str, ...] = ()
    lasts: tuple[str, ...] = ()
    compare: tuple[str, ...] = ()  # sum metrics shown against the last comparable day and last week
    series_minutes: int = 60

    def wants(self, kind: str, metric: str) -> bool:
        return any(fnmatchcase(metric, p) for p in getattr(self, kind))


TOPICS: dict[str, Topic] = {
    "overview": Topic("overview", sums=("*.events",), series=("*.events",)),
}


def register_topic(topic: Topic) -> None:
    """Pages and screens add their topics at start; a name is registered once."""
    if topic.name in TOPICS and TOPICS[topic.name] != topic:
        raise ValueError(f"topic {topic.name!r} registered twice with different content")
    TOPICS[topic.name] = topic


def replace_topics(prefix: str, topics: Iterable[Topic]) -> None:
    """Make `topics` the registered topics whose names start with `prefix` (a screen reload), leaving every
    other topic alone. New and changed topics go in before removed ones go out, one key at a time, so a
    reader in another thread (the pusher's flush, a subscribe) never misses a topic that exists both before
    and after the swap."""
    new = {t.name: t for t in topics}
    outside = [n for n in new if not n.startswith(prefix)]
    if outside:
        raise ValueError(f"topics {outside} do not start with {prefix!r}")
    TOPICS.update(new)
    for name in [n for n in list(TOPICS) if n.startswith(prefix) and n not in new]:
        TOPICS.pop(name, None)


def _sources(live: LiveState, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    stamps = live.sources()
    wanted = stamps.keys() if names is None else [n for n in names if n in stamps]
    return {s: {"system": s.split(".", 1)[-1], "last": stamps[s]} for s in wanted}


def comparisons(live: LiveState, metrics: Iterable[str], now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per metric: the running total at this minute on the reference days (kind-of-day aligned)."""
    local = now.astimezone(live.tz)
    minute = local.hour * 60 + local.minute
    out: dict[str, dict[str, Any]] = {}
    for m in metrics:
        refs = compare(default_calendar(), local.date(), minute,
                       lambda day, upto, m=m: live.cumulative(m, day.strftime("%Y%m%d"), upto))
        out[m] = {ref.label: {"day": ref.day.strftime("%Y%m%d"), "value": ref.value} for ref in refs}
    return out


def snapshot(live: LiveState, topic: Topic, now: dt.datetime, expect: Mapping[str, float]) -> dict[str, Any]:
    """Everything a subscriber of `topic` shows, as of now: sent on subscribe and after a reconnect."""
    day = live.day_key(now)
    sums = {m: v for m, v in live.sums(day).items() if topic.wants("sums", m)}
    series_metrics = [m for m in sums if topic.wants("series", m)]
    levels = {m: v for m, v in live.levels().items() if topic.wants("levels", m)}
    lasts = {m: live.lasts(m) for m in _last_metrics(live, topic)}
    return {
        "topic": topic.name,
        "t": int(now.timestamp() * 1000),
        "tz_offset_min": int(now.astimezone(live.tz).utcoffset().total_seconds() // 60),
        "day": day,
        "sums": sums,
        "levels": levels,
        "lasts": lasts,
        "minute": {m: live.series(m, now, topic.series_minutes) for m in series_metrics},
        "compare": comparisons(live, [m for m in sums if topic.wants("compare", m)], now),
        "sources": _sources(live),
        "expect": dict(expect),
    }


def _last_metrics(live: LiveState, topic: Topic) -> list[str]:
    if not topic.lasts:
        return []
    names = {k.decode().split(":", 2)[2] for k in live.r.scan_iter(match="live:last:*", count=1000)}
    return sorted(m for m in names if topic.wants("lasts", m))


@dataclass
class Touched:
    """What changed since the last flush, accumulated from applied batch deltas."""

    sums: set[str]
    minutes: set[tuple[str, str, int]]
    levels: set[str]
    lasts: set[tuple[str, str]]
    sources: set[str]

    @classmethod
    def empty(cls) -> Touched:
        return cls(set(), set(), set(), set(), set())

    def add(self, wire: Mapping[str, Any]) -> None:
        for m, d, mi, _a in wire.get("s", ()):
            self.sums.add(m)
            self.minutes.add((m, d, int(mi)))
        self.levels.update(m for m, _v in wire.get("l", ()))
        self.lasts.update((m, f) for m, f, _t, _v in wire.get("x", ()))
        self.sources.update(s[0] for s in wire.get("src", ()))

    def __bool__(self) -> bool:
        return bool(self.sums or self.levels or self.lasts or self.sources)


def update(live: LiveState, topic: Topic, touched: Touched, now: dt.datetime, *, with_series: bool) -> dict | None:
    """The partial message for one topic: absolute current values of what changed; None if nothing."""
    day = live.day_key(now)
    sums = [m for m in touched.sums if topic.wants("sums", m)]
    levels = [m for m in touched.levels if topic.wants("levels", m)]
    lasts: dict[str, list[str]] = {}
    for m, f in touched.lasts:
        if topic.wants("lasts", m):
            lasts.setdefault(m, []).append(f)
    minute: dict[str, list[list[float]]] = {}
    if with_series:
        by_metric: dict[tuple[str, str], list[int]] = {}
        for m, d, mi in touched.minutes:
            if topic.wants("series", m):
                by_metric.setdefault((m, d), []).append(mi)
        for (m, d), mins in by_metric.items():
            base = dt.datetime.strptime(d, "%Y%m%d").replace(tzinfo=live.tz)
            for mi, v in sorted(live.minutes(m, d, mins).items()):
                stamp = int((base + dt.timedelta(minutes=mi)).timestamp() * 1000)
                minute.setdefault(m, []).append([stamp, v])
    compared = comparisons(live, [m for m in sums if topic.wants("compare", m)], now) if with_series else {}
    if not (sums or levels or lasts or minute or touched.sources):
        return None
    return {
        "topic": topic.name,
        "t": int(now.timestamp() * 1000),
        "day": day,
        "sums": live.sums(day, sums) if sums else {},
        "levels": live.levels(levels) if levels else {},
        "lasts": {m: live.lasts(m, fs) for m, fs in lasts.items()},
        "minute": minute,
        "compare": compared,
        "sources": _sources(live, touched.sources),
    }
