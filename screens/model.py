"""The strict schema of screen and playlist files (schema_version 1): one pydantic model per kind.

Unknown keys are rejected, so a typo in a wall's YAML fails at load time with a message instead of
silently showing an empty panel. Scalar fields use our own validators so every message reads
"expected ..., got ..." and says how to fix it. Rules that need the whole screen or the caller's
catalogue live in `screens.rules`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

SCHEMA_VERSIONS = (1,)
PANEL_TYPES = ("kpi", "trend", "ranking", "donut", "gauge", "heatmap", "map", "alarm_ticker", "event_table", "header")
Loc = tuple[str | int, ...]


def show(value: Any) -> str:
    """A value as the YAML author wrote it, for messages ("got 30", "got 'abc'", "got true")."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} (quote it)"


def _fail(kind: str, want: str, value: Any, hint: str = "") -> PydanticCustomError:
    ctx = {"want": want, "got": show(value), "hint": hint}
    return PydanticCustomError(kind, "expected {want}, got {got}{hint}", ctx)


def _int(lo: int, hi: int | None) -> Callable[[Any], int]:
    want = f"an integer from {lo} to {hi}" if hi is not None else f"an integer of at least {lo}"

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            raise _fail("int_range", want, v)
        return v

    return check


def between(lo: int, hi: int | None = None) -> BeforeValidator:
    """Metadata for `Annotated[int, between(lo, hi)]`: YAML booleans and quoted numbers are refused, not coerced."""
    return BeforeValidator(_int(lo, hi))


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _fail("number", "a number", v)
    return float(v)


def _flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _fail("flag", "true or false", v)
    return v


def _text(v: Any) -> str:
    if isinstance(v, bool):
        raise _fail("text", "text", v, "; YAML reads yes/no/on/off as true/false, so quote the word")
    if not isinstance(v, str) or not v.strip():
        raise _fail("text", "non-empty text", v, "; quote it" if isinstance(v, int | float) else "")
    return v


def _pattern(rx: str, want: str) -> Callable[[Any], str]:
    compiled = re.compile(rx)

    def check(v: Any) -> str:
        if not isinstance(v, str) or not compiled.fullmatch(v):
            raise _fail("pattern", want, v)
        return v

    return check


def _param(v: Any) -> str | int | float | bool:
    if not isinstance(v, str | int | float | bool):
        raise _fail("param", "a text or number value", v)
    return v


def _site_file(v: Any) -> str:
    """Walls run offline behind the compound's firewall: an overlay is a file beside the screens, never a URL.

    Beside the screens rather than under assets/: Dash serves assets/ to anyone, while the site map
    (where the buildings and gates are) travels inside the signed-in page.
    """
    if isinstance(v, str) and (re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", v) or v.startswith("//")):
        raise PydanticCustomError(
            "overlay_url", "expected a GeoJSON file under screens/, got the URL {got}; walls run offline: save the "
            "file under screens/maps/ and give its path, like 'maps/compound.geojson'", {"got": show(v)})
    if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9_\-][A-Za-z0-9_\-./]*\.geojson", v) or (
            ".." in v.split("/")):
        raise _fail("overlay", "a GeoJSON file under screens/, like 'maps/compound.geojson'", v)
    return v


Number = Annotated[float, BeforeValidator(_number)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Text = Annotated[str, BeforeValidator(_text)]
Ident = Annotated[str, BeforeValidator(_pattern(
    r"[a-z][a-z0-9_]{0,63}", "an id of lowercase letters, digits and underscores starting with a letter"))]
MetricKey = Annotated[str, BeforeValidator(_pattern(
    r"[a-z][a-z0-9_]*(\.([A-Za-z0-9_-]+|\{[a-z][a-z0-9_]*\}))*", "a metric key like 'passage.on_site'"))]
Drill = Annotated[str, BeforeValidator(_pattern(
    r"/([A-Za-z0-9_\-.]|\{[a-z][a-z0-9_]*\})+(/([A-Za-z0-9_\-.]|\{[a-z][a-z0-9_]*\})+)*/?",
    "a local path starting with '/', like '/units/{unit_id}'"))]
Param = Annotated[str | int | float | bool, BeforeValidator(_param)]
SiteFile = Annotated[str, BeforeValidator(_site_file)]
Color = Literal["ok", "info", "warn", "alarm"]


class Strict(BaseModel):
    """Base of every model: unknown keys are an error that lists the allowed keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                close = difflib.get_close_matches(str(unknown[0]), list(cls.model_fields), n=1)
                raise PydanticCustomError(
                    "unknown_key", "unknown {keys}; {hint}allowed keys: {allowed}",
                    {"key": unknown[0], "keys": ("keys " if len(unknown) > 1 else "key ") + ", ".join(
                        f"'{k}'" for k in unknown),
                     "hint": f"did you mean '{close[0]}'? " if close else "", "allowed": ", ".join(cls.model_fields)})
        return data


class Localized(Strict):
    """Every title in both languages: the wall shows Chinese, visitors' pages may show English."""

    zh: Text
    en: Text


class Design(Strict):
    width: Annotated[int, between(640, 15360)] = 1920
    height: Annotated[int, between(360, 8640)] = 1080


class Grid(Strict):
    """A Grafana-like grid: panels are placed in whole cells so layouts survive any wall resolution."""

    columns: Annotated[int, between(1, 48)] = 24
    rows: Annotated[int, between(1, 48)] = 12
    gap: Annotated[int, between(0, 64)] = 12


class Cell(Strict):
    x: Annotated[int, between(0)]
    y: Annotated[int, between(0)]
    w: Annotated[int, between(1)]
    h: Annotated[int, between(1)]


class Format(Strict):
    """How a number is printed; thresholds compare the raw value (a ratio of 0.9, not 90, when percent is set)."""

    decimals: Annotated[int, between(0, 6)] = 0
    thousands: Flag = True
    percent: Flag = False


class Threshold(Strict):
    above: Number
    color: Color


class Binding(Strict):
    """Where a panel's numbers come from: a live metric key or a named warehouse query."""

    live: MetricKey | None = None
    query: Ident | None = None
    params: dict[Ident, Param] = {}

    @model_validator(mode="after")
    def _one_source(self) -> Binding:
        if (self.live is None) == (self.query is None):
            raise PydanticCustomError("bind_source",
                                      "give exactly one of 'live: <metric key>' or 'query: <query name>'")
        if self.live is not None and self.params:
            raise PydanticCustomError("bind_params", "params go with a query; a live metric takes none")
        return self


class Series(Strict):
    """One labelled binding: a line of a trend or a slice of a donut."""

    label: Localized
    bind: Binding


class Column(Strict):
    key: Ident
    label: Localized


class PanelBase(Strict):
    """Fields every panel has; each type adds its own in a subclass."""

    id: Ident
    type: str
    title: Localized
    at: Cell
    unit: Text | None = None
    format: Format = Format()
    thresholds: list[Threshold] = []
    # seconds without news before the panel shows "数据延迟 N 分钟"; None: the source system's own interval
    expect_every_s: Annotated[int, between(1, 86400)] | None = None
    drill: Drill | None = None
    privacy: Literal["public", "internal", "personal"] = "public"

    def bindings(self) -> Iterator[tuple[Loc, Binding]]:
        """Every binding with its location inside the panel, so one check covers all types."""
        bind = getattr(self, "bind", None)
        if bind is not None:
            yield ("bind",), bind


# Points per period of the local clock in a trend or a KPI's sparkline: meters reporting every 15 minutes read as a
# 15-minute curve instead of a comb of one-minute spikes. Sums add up per period, levels average.
BucketMin = Literal[1, 5, 10, 15, 30, 60]


class KpiPanel(PanelBase):
    type: Literal["kpi"]
    bind: Binding
    per: Binding | None = None  # shows bind / per: on-time rates, vacancy, average satisfaction
    compare: list[Literal["last_comparable_day", "same_day_last_week"]] = Field([], max_length=2)
    sparkline: Flag = False
    bucket_min: BucketMin = 1  # of the sparkline

    def bindings(self) -> Iterator[tuple[Loc, Binding]]:
        yield ("bind",), self.bind
        if self.per is not None:
            yield ("per",), self.per


class TrendPanel(PanelBase):
    type: Literal["trend"]
    series: list[Series] = Field(min_length=1, max_length=8)
    window_min: Annotated[int, between(5, 1440)] = 60
    bucket_min: BucketMin = 1
    style: Literal["line", "area"] = "line"

    def bindings(self) -> Iterator[tuple[Loc, Binding]]:
        for i, s in enumerate(self.series):
            yield ("series", i, "bind"), s.bind


class RankingPanel(PanelBase):
    type: Literal["ranking"]
    bind: Binding  # a query, or a live metric family such as canteen.dish.{dish}
    top: Annotated[int, between(3, 20)] = 10


class DonutPanel(PanelBase):
    type: Literal["donut"]
    slices: list[Series] = Field(min_length=2, max_length=8)

    def bindings(self) -> Iterator[tuple[Loc, Binding]]:
        for i, s in enumerate(self.slices):
            yield ("slices", i, "bind"), s.bind


class GaugePanel(PanelBase):
    """`max_from` (e.g. today's energy quota from the warehouse) replaces `max` once it is known; its
    thresholds are then fractions of the max (0.9 = 90 %), so they follow the max."""

    type: Literal["gauge"]
    bind: Binding
    min: Number = 0.0
    max: Number
    max_from: Binding | None = None

    def bindings(self) -> Iterator[tuple[Loc, Binding]]:
        yield ("bind",), self.bind
        if self.max_from is not None:
            yield ("max_from",), self.max_from

    @model_validator(mode="after")
    def _relative_thresholds(self) -> GaugePanel:
        if self.max_from is not None:
            for t in self.thresholds:
                if not 0 < t.above <= 2:
                    raise PydanticCustomError(
                        "gauge_fraction", "with max_from a threshold is a fraction of the max, like 0.9; got {got}",
                        {"got": f"{t.above:g}"})
        return self


class HeatmapPanel(PanelBase):
    type: Literal["heatmap"]
    bind: Binding  # a query, or a live family whose placeholder names the rows, e.g. ...building.{building}
    rows: Literal["building", "floor"]
    columns: Literal["hour"] = "hour"


class MapPanel(PanelBase):
    """Vehicles or sites on the compound's outline; `overlay` names its GeoJSON, relative to screens/."""

    type: Literal["map"]
    layer: Literal["vehicles", "sites"]
    bind: Binding | None = None
    overlay: SiteFile | None = None
    _sites: dict[str, Any] | None = PrivateAttr(None)

    @property
    def sites(self) -> dict[str, Any] | None:
        """The overlay's FeatureCollection once the loader has read and checked the file."""
        return self._sites

    def with_sites(self, sites: dict[str, Any]) -> MapPanel:
        """A copy carrying the overlay's features: the model does no file IO, the loader reads the file."""
        out = self.model_copy()
        out._sites = sites
        return out


class AlarmTickerPanel(PanelBase):
    type: Literal["alarm_ticker"]
    max_items: Annotated[int, between(1, 50)] = 10
    min_severity: Literal["low", "medium", "high", "critical"] = "low"


class EventTablePanel(PanelBase):
    type: Literal["event_table"]
    bind: Binding  # a live "last" metric: one row per entity
    columns: list[Column] = Field(min_length=1, max_length=8)
    page_size: Annotated[int, between(3, 30)] = 10
    dwell_s: Annotated[int, between(3, 60)] = 10
    # what the row ids (column key `id`) are, so they show by name; columns keyed building, unit, canteen or
    # window show names too
    row_names: Literal["building", "unit", "canteen", "window"] | None = None


class HeaderPanel(PanelBase):
    type: Literal["header"]
    briefing: Flag = False
    clock: Flag = True


Panel = Annotated[
    KpiPanel | TrendPanel | RankingPanel | DonutPanel | GaugePanel | HeatmapPanel | MapPanel | AlarmTickerPanel
    | EventTablePanel | HeaderPanel,
    Field(discriminator="type"),
]
FAMILY_PANELS = ("ranking", "heatmap")  # these bind a whole metric family, one row per member


class Screen(Strict):
    """One wall page. `params` declares the placeholders its bindings use, with defaults a slide may override."""

    schema_version: Literal[1]
    id: Ident
    title: Localized
    design: Design = Design()
    theme: Literal["dark"] = "dark"
    grid: Grid = Grid()
    params: dict[Ident, Text] = {}
    panels: list[Panel] = Field(min_length=1)


class Slide(Strict):
    screen: Ident
    dwell_s: Annotated[int, between(5, 3600)] = 30
    params: dict[Ident, Text] = {}


class Playlist(Strict):
    """Screens a wall rotates through, each for its own dwell time."""

    schema_version: Literal[1]
    id: Ident
    title: Localized
    slides: list[Slide] = Field(min_length=1)
