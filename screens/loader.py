"""Turn screen and playlist YAML files into typed models, or into errors naming file, line, panel and field.

The person editing a wall's YAML is not reading Python tracebacks: every problem comes back as
`screens/overview.yaml:14: panel 'meals_today': at.w: expected an integer from 1 to 24, got 30`.
Lines come from `yaml.compose` nodes: a pydantic error location (or a cross-field `Issue`) is walked
down the node tree to the key or item it names. A bad file never stops the others: `load_all`
returns every valid screen together with every error, so the app keeps serving what is valid.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from screens.model import PANEL_TYPES, SCHEMA_VERSIONS, Loc, Playlist, Screen, show
from screens.overlays import with_overlays
from screens.rules import Catalogue, Issue, playlist_issues, screen_issues

__all__ = ["Catalogue", "LoadResult", "ScreenError", "format_errors", "load_all", "load_playlist", "load_screen",
           "playlist_errors", "screen_errors"]

M = TypeVar("M", bound=BaseModel)
_EXAMPLES = {
    "id": "id: people_on_site", "type": "type: kpi", "title": "title: {zh: 在院人数, en: People on site}",
    "at": "at: {x: 0, y: 1, w: 6, h: 3}", "bind": "bind: {live: passage.on_site}", "screen": "screen: overview",
    "zh": "zh: 综合态势", "en": "en: Overview", "panels": "panels: [...]", "slides": "slides: [...]",
}


@dataclass(eq=True)
class ScreenError(Exception):
    """One problem in one file; an exception for `load_screen` and a plain value in `LoadResult.errors`."""

    file: str
    line: int
    panel: str | None
    field: str | None
    message: str

    __hash__ = Exception.__hash__  # by identity, as exceptions are (traceback machinery may put them in sets)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.field
        if self.panel is not None and where and where.startswith("panels["):
            where = where.split("]", 1)[1].lstrip(".") or None
        parts = [f"{self.file}:{self.line}"]
        if self.panel is not None:
            parts.append(f"panel '{self.panel}'")
        if where:
            parts.append(where)
        return ": ".join([*parts, self.message])


@dataclass
class LoadResult:
    """Everything valid in a folder plus every error, so the app serves what it can and reports the rest."""

    screens: dict[str, Screen] = field(default_factory=dict)
    playlists: dict[str, Playlist] = field(default_factory=dict)
    errors: list[ScreenError] = field(default_factory=list)


class _Doc:
    """A parsed file: its data, its node tree for line numbers, and the label used in messages."""

    def __init__(self, label: str, data: Any, root: Node) -> None:
        self.label, self.data, self.root = label, data, root

    def error(self, loc: Loc, message: str, line: int | None = None) -> ScreenError:
        return ScreenError(self.label, line or self._line(loc), self._panel(loc), _dotted(loc) or None, message)

    def _line(self, loc: Loc) -> int:
        """1-based line of the deepest node the location reaches: the key's line for a mapping entry."""
        node, line = self.root, self.root.start_mark.line
        for part in loc:
            if isinstance(node, MappingNode) and isinstance(part, str):
                hit = next(((k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == part), None)
                if hit is None:
                    break
                line, node = hit[0].start_mark.line, hit[1]
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line
            else:
                break
        return line + 1

    def _panel(self, loc: Loc) -> str | None:
        if len(loc) < 2 or loc[0] != "panels" or not isinstance(loc[1], int) or not isinstance(self.data, dict):
            return None
        panels = self.data.get("panels")
        item = panels[loc[1]] if isinstance(panels, list) and loc[1] < len(panels) else None
        pid = item.get("id") if isinstance(item, dict) else None
        return pid if isinstance(pid, str) else None


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _label(path: Path, root: Path | None) -> str:
    """How a file is named in messages: relative to `root`, else as `<folder>/<file>`."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _parse(path: Path, label: str) -> _Doc:
    """Read and parse one file; syntax errors carry the parser's own line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScreenError(label, 1, None, None, "the file is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ScreenError(label, 1, None, None, f"cannot read the file: {exc.strerror}") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark, start = exc.problem_mark or exc.context_mark, exc.context_mark
        what = exc.problem or exc.context or "unreadable YAML"
        if exc.context and exc.problem and start is not None:
            what += f" ({exc.context} that starts on line {start.line + 1})"
        raise ScreenError(label, (mark.line + 1) if mark else 1, None, None,
                          f"YAML syntax error: {what}; check indentation, colons and quotes") from None
    except yaml.YAMLError as exc:
        raise ScreenError(label, 1, None, None, f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    if root is None or not isinstance(data, dict):
        raise ScreenError(label, (root.start_mark.line + 1) if root is not None else 1, None, None,
                          f"expected a mapping of keys, starting with 'schema_version: 1', got {show(data)}")
    return _Doc(label, data, root)


def _duplicate_keys(node: Node, loc: Loc = ()) -> list[tuple[Loc, str, int]]:
    """YAML silently keeps the last of two equal keys; an author who wrote both meant one of them."""
    found: list[tuple[Loc, str, int]] = []
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, ScalarNode) else None
            if key is not None and key in first:
                found.append(((*loc, key), f"key '{key}' appears twice (first on line {first[key]}); keep one",
                              k.start_mark.line + 1))
            elif key is not None:
                first[key] = k.start_mark.line + 1
            found += _duplicate_keys(v, (*loc, key if key is not None else "?"))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, (*loc, i))
    return found


def _translate(err: Any) -> tuple[Loc, str]:
    """A pydantic error as (location in the YAML, message that says how to fix it)."""
    kind, ctx = err["type"], err.get("ctx") or {}
    loc: Loc = tuple(p for i, p in enumerate(err["loc"])  # drop the union tag pydantic puts after panels[i]
                     if not (i == 2 and err["loc"][0] == "panels" and p in PANEL_TYPES))
    got = show(err.get("input"))
    if kind == "unknown_key":
        return (*loc, ctx["key"]), err["msg"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        head = f"unknown panel type {show(ctx.get('tag'))}" if kind == "union_tag_invalid" else "missing key 'type'"
        return (*loc, "type"), f"{head}; known types: {', '.join(PANEL_TYPES)}"
    if kind == "missing":
        example = _EXAMPLES.get(str(loc[-1]))
        return loc, "required key is missing" + (f"; add it, e.g. {example}" if example else "")
    if kind == "literal_error":
        options = [o.strip("'") for o in ctx["expected"].replace(" or ", ", ").split(", ")]
        return loc, f"expected one of {', '.join(options)}; got {got}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, f"expected a mapping of keys, got {got}"
    if kind == "list_type":
        return loc, f"expected a list, got {got}"
    if kind == "too_short":
        return loc, f"expected at least {ctx['min_length']} item(s), got {ctx['actual_length']}"
    if kind == "too_long":
        return loc, f"expected at most {ctx['max_length']} items, got {ctx['actual_length']}"
    return loc, err["msg"]


def _validate(doc: _Doc, model: type[M], kind: str) -> tuple[M | None, list[ScreenError]]:
    """Version gate first (another version means another format), then shape, then file name vs id."""
    version = doc.data.get("schema_version")
    supported = ", ".join(map(str, SCHEMA_VERSIONS))
    if "schema_version" not in doc.data:
        return None, [doc.error((), f"missing schema_version; start the {kind} with 'schema_version: 1' "
                                    f"(supported versions: {supported})")]
    if isinstance(version, bool) or version not in SCHEMA_VERSIONS:
        return None, [doc.error(("schema_version",), f"unsupported version {show(version)}; "
                                                     f"supported versions: {supported}")]
    errors = [doc.error(loc, msg, line) for loc, msg, line in _duplicate_keys(doc.root)]
    stem = Path(doc.label).stem
    if isinstance(doc.data.get("id"), str) and doc.data["id"] != stem:
        pid = doc.data["id"]
        errors.append(doc.error(("id",), f"'{pid}' differs from the file name '{stem}.yaml'; rename the file to "
                                         f"'{pid}.yaml' or set id: {stem}"))
    try:
        obj = model.model_validate(doc.data)
    except ValidationError as exc:
        errors += [doc.error(*_translate(e)) for e in exc.errors()]
        obj = None
    return obj, errors


def _sorted(errors: list[ScreenError]) -> list[ScreenError]:
    return sorted(errors, key=lambda e: (e.file, e.line, e.field or ""))


def _check(doc: _Doc, obj: M | None, errors: list[ScreenError],
           issues: list[Issue]) -> tuple[M | None, list[ScreenError]]:
    errors = _sorted(errors + [doc.error(i.loc, i.message) for i in issues])
    return (None if errors else obj), errors


def screen_errors(path: Path, catalogue: Catalogue, *, root: Path | None = None) -> tuple[Screen | None,
                                                                                          list[ScreenError]]:
    """All problems of one screen file (sorted by line), and the screen when there are none."""
    try:
        doc = _parse(path, _label(path, root))
    except ScreenError as exc:
        return None, [exc]
    screen, errors = _validate(doc, Screen, "screen")
    issues: list[Issue] = []
    if screen is not None:
        screen, overlay_issues = with_overlays(screen, path.parent)
        issues = screen_issues(screen, catalogue) + overlay_issues
    return _check(doc, screen, errors, issues)


def playlist_errors(path: Path, screens: Mapping[str, Screen], *, root: Path | None = None,
                    broken: Collection[str] = ()) -> tuple[Playlist | None, list[ScreenError]]:
    """All problems of one playlist file; `broken` names screens that exist but failed to load."""
    try:
        doc = _parse(path, _label(path, root))
    except ScreenError as exc:
        return None, [exc]
    playlist, errors = _validate(doc, Playlist, "playlist")
    issues = playlist_issues(playlist, screens, broken) if playlist is not None else []
    return _check(doc, playlist, errors, issues)


def load_screen(path: str | Path, catalogue: Catalogue, *, root: Path | None = None) -> Screen:
    """One screen, or raise its first error (by line); `load_all` reports every error instead."""
    screen, errors = screen_errors(Path(path), catalogue, root=root)
    if screen is None:
        raise errors[0]
    return screen


def load_playlist(path: str | Path, screens: Mapping[str, Screen], *, root: Path | None = None) -> Playlist:
    """One playlist whose slides must name screens in `screens`, or raise its first error."""
    playlist, errors = playlist_errors(Path(path), screens, root=root)
    if playlist is None:
        raise errors[0]
    return playlist


def load_all(folder: str | Path, catalogue: Catalogue) -> LoadResult:
    """Every screen in `folder` and every playlist in `folder/playlists`; files named `<folder>/...`."""
    folder = Path(folder)
    root, out, broken = folder.parent, LoadResult(), set()
    for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("playlists/*.yml")):
        out.errors.append(ScreenError(_label(path, root), 1, None, None,
                                      f"screen files end in .yaml; rename it to '{path.stem}.yaml'"))
    for path in sorted(folder.glob("*.yaml")):
        screen, errors = screen_errors(path, catalogue, root=root)
        if screen is not None:
            out.screens[screen.id] = screen
        else:
            broken.add(path.stem)
            out.errors += errors
    for path in sorted(folder.glob("playlists/*.yaml")):
        playlist, errors = playlist_errors(path, out.screens, root=root, broken=broken)
        if playlist is not None:
            out.playlists[playlist.id] = playlist
        out.errors += errors
    return out


def format_errors(errors: list[ScreenError]) -> str:
    """The report `python app.py validate-screens` prints: one line per error, then a count."""
    if not errors:
        return "no errors"
    files = {e.file for e in errors}
    lines = [str(e) for e in _sorted(errors)]
    return "\n".join([*lines, f"{len(errors)} error(s) in {len(files)} file(s)"])
