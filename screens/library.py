"""The screen library a running process serves, reloaded when the YAML files change (hot reload).

Each process (web and worker) holds one `ScreenLibrary` and polls `reload_if_changed()` about once a second:
a fingerprint of the files' paths, sizes and modification times is compared, so an unchanged folder costs a
few `stat` calls and no parsing. A new fingerprint is loaded only once it has held for one poll, so a file
caught half-written by a slow copy is not loaded in between.

An invalid edit never takes a screen off an open wall: a file that fails validation keeps its last valid
version serving (the errors are logged and reported by `errors_of`, so whoever opens the page, and
`python app.py validate-screens`, sees them). A deleted file is removed: deleting is deliberate, saving a
half-typed file is not. A playlist keeps its last valid version only while every screen it names is still
served.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from pathlib import Path

from screens.loader import Catalogue, LoadResult, ScreenError, format_errors, load_all
from screens.model import Playlist, Screen

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Change:
    """What one reload changed in what is served; `notify` names the screens whose open pages must re-render
    (changed, added or removed screens, and every screen of a changed playlist, before and after)."""

    version: int
    screens: frozenset[str]
    playlists: frozenset[str]
    notify: frozenset[str]


def fingerprint(folder: Path) -> Fingerprint:
    """(name, size, mtime in ns) of every screen and playlist file; a missing folder has none."""
    out: list[tuple[str, int, int]] = []
    for prefix, sub in (("", folder), ("playlists/", folder / "playlists")):
        try:
            entries = list(os.scandir(sub))
        except OSError:
            continue
        for e in entries:
            if not (e.name.endswith((".yaml", ".yml")) and e.is_file()):
                continue
            try:
                st = e.stat()
            except OSError:  # deleted since the listing: the next poll sees it gone
                continue
            out.append((prefix + e.name, st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def _broken(errors: list[ScreenError]) -> tuple[set[str], set[str]]:
    """(screen ids, playlist ids) whose files have errors; labels are `<folder>/x.yaml` and
    `<folder>/playlists/x.yaml` (screens.loader names files relative to the folder's parent)."""
    screens: set[str] = set()
    playlists: set[str] = set()
    for e in errors:
        parts = Path(e.file).parts
        (playlists if len(parts) == 3 and parts[1] == "playlists" else screens).add(Path(e.file).stem)
    return screens, playlists


def errors_of(result: LoadResult, names: Iterable[str]) -> list[ScreenError]:
    """The errors of the screen and playlist files named `names` (what their page shows when opened)."""
    wanted = set(names)
    return [e for e in result.errors if Path(e.file).stem in wanted]


def merge(fresh: LoadResult, last: LoadResult) -> LoadResult:
    """`fresh` plus the last valid version of each screen or playlist whose file now fails validation."""
    bad_screens, bad_playlists = _broken(fresh.errors)
    screens = dict(fresh.screens)
    for sid in bad_screens - screens.keys():
        if sid in last.screens:
            screens[sid] = last.screens[sid]
    playlists = dict(fresh.playlists)
    for pid in bad_playlists - playlists.keys():
        kept = last.playlists.get(pid)
        if kept is not None and all(s.screen in screens for s in kept.slides):
            playlists[pid] = kept
    return LoadResult(screens=screens, playlists=playlists, errors=list(fresh.errors))


def _changed(old: Mapping[str, object], new: Mapping[str, object]) -> frozenset[str]:
    return frozenset(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def diff(old: LoadResult, new: LoadResult, version: int) -> Change:
    """What `new` serves differently from `old` (pydantic models compare by value)."""
    screens = _changed(old.screens, new.screens)
    playlists = _changed(old.playlists, new.playlists)
    notify = set(screens)
    for pid in playlists:
        for lib in (old, new):
            if pid in lib.playlists:
                notify.update(s.screen for s in lib.playlists[pid].slides)
    return Change(version, screens, playlists, frozenset(notify))


class ScreenLibrary:
    """The screens and playlists one process serves now; `current` is replaced whole on a reload, so a reader
    that takes it once sees one consistent version."""

    def __init__(self, folder: Path, catalogue: Catalogue):
        self.folder, self.catalogue = Path(folder), catalogue
        self.version = 1
        self._fp = fingerprint(self.folder)
        self._pending: Fingerprint | None = None
        self.current = merge(self._load(), LoadResult())

    @property
    def screens(self) -> dict[str, Screen]:
        return self.current.screens

    @property
    def playlists(self) -> dict[str, Playlist]:
        return self.current.playlists

    @property
    def errors(self) -> list[ScreenError]:
        return self.current.errors

    def scopes(self) -> frozenset[str]:
        """What a display token may be paired to now: every served screen and playlist."""
        lib = self.current
        return frozenset({f"screen:{s}" for s in lib.screens} | {f"playlist:{p}" for p in lib.playlists})

    def scope_view(self) -> Set[str]:
        """A read-only set that always answers with the current `scopes()` (for the token admin page)."""
        return _Scopes(self)

    def _load(self) -> LoadResult:
        result = load_all(self.folder, self.catalogue)
        if result.errors:
            log.error("INVALID SCREEN FILES in %s (their last valid version, if any, keeps serving):\n%s",
                      self.folder, format_errors(result.errors))
        return result

    def reload_if_changed(self) -> Change | None:
        """Load the folder again when its fingerprint changed and then held for one poll; None when nothing
        new was loaded. A reload that changes only the errors returns a Change with nothing in it and keeps
        the version."""
        fp = fingerprint(self.folder)
        if fp == self._fp:
            self._pending = None
            return None
        if fp != self._pending:
            self._pending = fp
            return None
        self._fp, self._pending = fp, None
        had_errors = bool(self.current.errors)
        new = merge(self._load(), self.current)
        if had_errors and not new.errors:
            log.info("screen files in %s are valid again", self.folder)
        change = diff(self.current, new, self.version + 1)
        if change.screens or change.playlists:
            self.version = change.version
            log.info("screens reloaded (version %d): screens %s, playlists %s", self.version,
                     sorted(change.screens) or "-", sorted(change.playlists) or "-")
        else:
            change = Change(self.version, frozenset(), frozenset(), frozenset())
        self.current = new
        return change

    def watch(self, on_change: Callable[[Change], None], stop: threading.Event, interval_s: float = 1.0) -> None:
        """Poll until `stop` is set, calling `on_change` after each reload that changed what is served."""
        while not stop.wait(interval_s):
            try:
                change = self.reload_if_changed()
                if change is not None and (change.screens or change.playlists):
                    on_change(change)
            except Exception:  # noqa: BLE001 - a failed round must not end hot reload; the next poll retries
                log.exception("screen reload failed")

    def start_watching(self, on_change: Callable[[Change], None], interval_s: float = 1.0) -> threading.Event:
        """`watch` in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.watch, args=(on_change, stop, interval_s), name="screen-reload",
                         daemon=True).start()
        return stop


class _Scopes(Set[str]):
    def __init__(self, library: ScreenLibrary):
        self._library = library

    def __contains__(self, item: object) -> bool:
        return item in self._library.scopes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._library.scopes())

    def __len__(self) -> int:
        return len(self._library.scopes())
