"""Rules no single field can check: grid fit, overlaps, unique ids, bindings against the catalogue, playlists.

Each broken rule is an `Issue` carrying a pydantic-style location instead of an exception, so the
loader reports every problem of a file at once, each at the line of the key to fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, NamedTuple

from screens.model import FAMILY_PANELS, GaugePanel, HeatmapPanel, Loc, PanelBase, Playlist, Screen

# (panel type, params) -> (field, message) for each problem of binding a named query on such a panel
QueryCheck = Callable[[str, Mapping[str, Any]], list[tuple[str, str]]]


class Issue(NamedTuple):
    """A rule broken across fields: where (a pydantic-style location) and what to do about it."""

    loc: Loc
    message: str


def _family_rx(name: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z][a-z0-9_]*\})", name)
    return re.compile("".join("[^.{}]+" if p.startswith("{") else re.escape(p) for p in parts))


def _did_you_mean(close: list[str]) -> str:
    if not close:
        return ""
    quoted = [f"'{c}'" for c in close]
    return "did you mean " + (quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]) + "?"


class Catalogue:
    """What screens may bind to, passed in by the caller so this package imports nothing of ours.

    Metric names may be families with `{placeholder}` segments (canteen.meals.canteen.{canteen}):
    a concrete member (canteen.meals.canteen.CT1) matches the family, and ranking-like panels bind
    the family itself.
    """

    def __init__(self, metrics: Collection[str], queries: Collection[str] | Mapping[str, QueryCheck]) -> None:
        """`queries`: names, or names mapped to a check of a binding's params for a panel type."""
        self.metrics = frozenset(metrics)
        self.queries = frozenset(queries)
        self._query_checks: dict[str, QueryCheck] = dict(queries) if isinstance(queries, Mapping) else {}
        self._families = {m: _family_rx(m) for m in sorted(self.metrics) if "{" in m}

    def families(self) -> list[str]:
        return list(self._families)

    def is_family(self, key: str) -> bool:
        return key in self._families

    def resolve(self, key: str) -> str | None:
        """The catalogue entry a concrete key belongs to (itself or its family), None when unknown."""
        if "{" in key:
            return None
        if key in self.metrics:
            return key
        return next((name for name, rx in self._families.items() if rx.fullmatch(key)), None)

    def unknown_metric(self, key: str) -> str:
        close = difflib.get_close_matches(key, sorted(self.metrics), n=3, cutoff=0.6)
        return f"unknown metric '{key}'; " + (_did_you_mean(close) or "no similar name in the metric catalogue")

    def query_problems(self, panel_type: str, name: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        check = self._query_checks.get(name)
        return check(panel_type, params) if check is not None else []

    def unknown_query(self, name: str) -> str:
        hint = _did_you_mean(difflib.get_close_matches(name, sorted(self.queries), n=1, cutoff=0.6))
        return f"unknown query '{name}'; {hint + ' ' if hint else ''}known queries: {', '.join(sorted(self.queries))}"


def _shape(key: str) -> str:
    return re.sub(r"\{[a-z][a-z0-9_]*\}", "{}", key)


def kind_of(key: str, kinds: Mapping[str, str]) -> str | None:
    """The kind (sum, level, last) of a bound key: a catalogue name, a member of a family, or a family
    written with other placeholder names (a screen parameter such as {building})."""
    if key in kinds:
        return kinds[key]
    shape = _shape(key)
    for name, kind in kinds.items():
        if "{" not in name:
            continue
        if _shape(name) == shape:
            return kind
        if "{" not in key and re.fullmatch(re.escape(_shape(name)).replace(r"\{\}", "[^.]+"), key):
            return kind
    return None


def _span(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}..{hi}"


def _layout_issues(screen: Screen) -> Iterator[Issue]:
    """Ids unique, every panel inside the grid, no two panels sharing a cell."""
    seen: dict[str, int] = {}
    placed: list[tuple[int, PanelBase]] = []
    cols, rows = screen.grid.columns, screen.grid.rows
    for i, p in enumerate(screen.panels):
        if p.id in seen:
            yield Issue(("panels", i, "id"), f"duplicate panel id '{p.id}' (panels[{seen[p.id]}] has it already); "
                                             "panel ids must be unique within a screen")
        seen.setdefault(p.id, i)
        a, fits = p.at, True
        for pos, size, limit, what in (("x", "w", cols, "columns"), ("y", "h", rows, "rows")):
            start, extent = getattr(a, pos), getattr(a, size)
            if extent > limit:
                yield Issue(("panels", i, "at", size), f"expected an integer from 1 to {limit}, got {extent}")
            elif start >= limit:
                yield Issue(("panels", i, "at", pos), f"expected an integer from 0 to {limit - 1}, got {start}")
            elif start + extent > limit:
                yield Issue(("panels", i, "at"), f"{pos} {start} + {size} {extent} reaches past the grid's {limit} "
                                                 f"{what}; make {size} at most {limit - start} or {pos} at most "
                                                 f"{limit - extent}")
            else:
                continue
            fits = False
        if fits:
            placed.append((i, p))
    for n, (i, p) in enumerate(placed):
        for _, q in placed[:n]:
            x0, x1 = max(p.at.x, q.at.x), min(p.at.x + p.at.w, q.at.x + q.at.w) - 1
            y0, y1 = max(p.at.y, q.at.y), min(p.at.y + p.at.h, q.at.y + q.at.h) - 1
            if x0 <= x1 and y0 <= y1:
                yield Issue(("panels", i, "at"), f"overlaps panel '{q.id}' in cells x {_span(x0, x1)}, "
                                                 f"y {_span(y0, y1)}; move or resize one of them")


def _value_issues(screen: Screen) -> Iterator[Issue]:
    for i, p in enumerate(screen.panels):
        for k in range(1, len(p.thresholds)):
            prev, cur = p.thresholds[k - 1].above, p.thresholds[k].above
            if cur <= prev:
                yield Issue(("panels", i, "thresholds", k, "above"),
                            f"thresholds must rise: {cur:g} is not above {prev:g}; list them from low to high")
        if isinstance(p, GaugePanel) and p.max <= p.min:
            yield Issue(("panels", i, "max"), f"max {p.max:g} must be greater than min {p.min:g}")


def _binding_issues(screen: Screen, catalogue: Catalogue) -> Iterator[Issue]:
    for i, p in enumerate(screen.panels):
        for where, b in p.bindings():
            loc = ("panels", i, *where)
            if b.query is not None:
                if b.query not in catalogue.queries:
                    yield Issue((*loc, "query"), catalogue.unknown_query(b.query))
                    continue
                for where, message in catalogue.query_problems(p.type, b.query, b.params):
                    yield Issue((*loc, *where.split(".")), message)
                continue
            key = b.live or ""
            if p.type in FAMILY_PANELS:
                yield from _family_issue((*loc, "live"), p, key, catalogue)
                continue
            filled = key.format_map(_Keep(screen.params)) if "{" in key else key
            missing = re.findall(r"\{([a-z0-9_]+)\}", filled)
            if missing and catalogue.is_family(key):
                yield Issue((*loc, "live"), f"placeholder '{{{missing[0]}}}' is not a screen param; declare it at the "
                                            f"top (params: {{{missing[0]}: <default>}}) or bind one member of "
                                            f"'{key}'")
            elif catalogue.resolve(filled) is None:
                yield Issue((*loc, "live"), catalogue.unknown_metric(key))


def _family_issue(loc: Loc, p: PanelBase, key: str, catalogue: Catalogue) -> Iterator[Issue]:
    if catalogue.is_family(key):
        if isinstance(p, HeatmapPanel) and f"{{{p.rows}}}" not in key:
            yield Issue(loc, f"rows: {p.rows} needs a family with a {{{p.rows}}} placeholder, got '{key}'")
    elif catalogue.resolve(key) is not None:
        example = next(iter(catalogue.families()), "a.{member}")
        yield Issue(loc, f"a {p.type} binds a metric family with a {{placeholder}}, like '{example}', or a query; "
                         f"'{key}' is a single metric")
    else:
        yield Issue(loc, catalogue.unknown_metric(key))


class _Keep(dict[str, str]):
    """format_map filler that leaves undeclared placeholders in place, so they can be reported."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def screen_issues(screen: Screen, catalogue: Catalogue) -> list[Issue]:
    """Rules no single field can check; each comes back with the location of the field to fix."""
    return [*_layout_issues(screen), *_value_issues(screen), *_binding_issues(screen, catalogue)]


def playlist_issues(playlist: Playlist, screens: Mapping[str, Screen], broken: Collection[str] = ()) -> list[Issue]:
    """Every slide names a loadable screen and only the params that screen declares."""
    out: list[Issue] = []
    for i, s in enumerate(playlist.slides):
        target = screens.get(s.screen)
        if target is None:
            if s.screen in broken:
                msg = f"screen '{s.screen}' has errors of its own; fix its file first"
            else:
                hint = _did_you_mean(difflib.get_close_matches(s.screen, sorted(screens), n=1, cutoff=0.6))
                msg = f"unknown screen '{s.screen}'; {hint + ' ' if hint else ''}known screens: " + (
                    ", ".join(sorted(screens)) or "none")
            out.append(Issue(("slides", i, "screen"), msg))
            continue
        for name in s.params:
            if name not in target.params:
                declared = ", ".join(sorted(target.params)) or "none"
                out.append(Issue(("slides", i, "params", name),
                                 f"screen '{s.screen}' has no param '{name}'; its params: {declared}"))
    return out
