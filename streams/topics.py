"""Push topics: which live metrics a room receives, and the snapshot/update messages.

A topic names metric patterns; a page subscribes to topics and gets one snapshot (resync)
then combined partial updates. Screens defined in YAML will register their own topics from
their panels' bindings; the first live page uses `overview`.

Every message carries two stamps:
- `v`, the version of the live state its KPI values (sums, levels, lasts, sources) come from,
  read with them in one transaction (LiveState.read). It orders messages: a page keeps each
  topic's snapshot `v` and applies an update only if its `v` is not below it.
- `t`, the server's clock when the message was made, for the page's clock and lateness only. It
  cannot order messages: it is taken before the values are read, and a reader that runs late
  (a starved thread of the web process) reads a newer state than its `t` says, so an update
  with a larger `t` could carry older values (33 alarms after a snapshot said 34).

Why the page's rule loses nothing and never shows an older value as current: a snapshot's
values are exactly state V. A batch applied after it has a version W > V, and the consumer
notes it to the pusher only after its apply returned, so the flush that takes the note reads at
a version >= W > V and carries the new absolute values: every change after V reaches the page
in an update with v > V. An update with v < V carries values of an older state, all of which
the snapshot includes or supersedes; dropping it loses nothing, applying it would show them as
current until they change again. (v == V: the same state as the snapshot, harmless.)

Minute series and comparisons are read after the transaction, outside it. Their buckets are
sent as absolute values, and a bucket that changes is sent again in the next chart flush (at
most `chart_interval` later) read after that change, so a chart point a little behind its
message's `v` heals by itself; keeping them out keeps the transaction short (a heatmap's day is
1,440 buckets per metric), as the consumer's applies wait for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from analytics.compare import compare
from domain.calendar import default_calendar
from streams.live_state import LiveState, lasts_read, levels_read, sources_read, sums_read


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


def _sources(stamps: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    return {s: {"system": s.split(".", 1)[-1], "last": ms} for s, ms in stamps.items()}


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
    """Everything a subscriber of `topic` shows, as of now: sent on subscribe and after a reconnect.

    The KPI values and `v` come from one transaction; the charts are read after it (module docstring)."""
    day = live.day_key(now)
    last_metrics = _last_metrics(live, topic)
    v, (all_sums, all_levels, stamps, *lasts) = live.read(sums_read(day), levels_read(), sources_read(),
                                                          *(lasts_read(m) for m in last_metrics))
    sums = {m: x for m, x in all_sums.items() if topic.wants("sums", m)}
    return {
        "topic": topic.name,
        "v": v,
        "t": int(now.timestamp() * 1000),
        "tz_offset_min": int(now.astimezone(live.tz).utcoffset().total_seconds() // 60),
        "day": day,
        "sums": sums,
        "levels": {m: x for m, x in all_levels.items() if topic.wants("levels", m)},
        "lasts": dict(zip(last_metrics, lasts)),
        "minute": {m: live.series(m, now, topic.series_minutes) for m in sums if topic.wants("series", m)},
        "compare": comparisons(live, [m for m in sums if topic.wants("compare", m)], now),
        "sources": _sources(stamps),
        "expect": dict(expect),
    }


def _last_metrics(live: LiveState, topic: Topic) -> list[str]:
    """The `last` metrics the topic shows that have values. Found by SCAN before the snapshot's transaction (a
    SCAN cannot run inside one): a metric whose very first value lands in between is missing from a snapshot
    whose `v` covers it, and shows from its next change on. Their keys never expire, so that is once per metric
    in the life of the Redis data."""
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
    """The partial message for one topic: absolute current values of what changed; None if nothing.

    The KPI values and `v` come from one transaction; the chart points are read after it (module docstring)."""
    day = live.day_key(now)
    sums = [m for m in touched.sums if topic.wants("sums", m)]
    levels = [m for m in touched.levels if topic.wants("levels", m)]
    lasts: dict[str, list[str]] = {}
    for m, f in touched.lasts:
        if topic.wants("lasts", m):
            lasts.setdefault(m, []).append(f)
    buckets = _touched_buckets(topic, touched) if with_series else {}
    if not (sums or levels or lasts or buckets or touched.sources):
        return None
    v, (sum_values, level_values, stamps, *last_values) = live.read(
        sums_read(day, sums), levels_read(levels), sources_read(touched.sources),
        *(lasts_read(m, fields) for m, fields in lasts.items()))
    return {
        "topic": topic.name,
        "v": v,
        "t": int(now.timestamp() * 1000),
        "day": day,
        "sums": sum_values,
        "levels": level_values,
        "lasts": dict(zip(lasts, last_values)),
        "minute": _minute_points(live, buckets),
        "compare": comparisons(live, [m for m in sums if topic.wants("compare", m)], now) if with_series else {},
        "sources": _sources(stamps),
    }


def _touched_buckets(topic: Topic, touched: Touched) -> dict[tuple[str, str], list[int]]:
    """(metric, day) -> the minutes of its series that changed."""
    out: dict[tuple[str, str], list[int]] = {}
    for m, d, mi in touched.minutes:
        if topic.wants("series", m):
            out.setdefault((m, d), []).append(mi)
    return out


def _minute_points(live: LiveState, buckets: Mapping[tuple[str, str], list[int]]) -> dict[str, list[list[float]]]:
    """Metric -> [minute start epoch ms, amount] of the given buckets, oldest first per day."""
    out: dict[str, list[list[float]]] = {}
    for (m, d), mins in buckets.items():
        base = dt.datetime.strptime(d, "%Y%m%d").replace(tzinfo=live.tz)
        for mi, amount in sorted(live.minutes(m, d, mins).items()):
            out.setdefault(m, []).append([int((base + dt.timedelta(minutes=mi)).timestamp() * 1000), amount])
    return out
