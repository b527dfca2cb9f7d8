"""Traps from SECURITY.md that a grep catches: each would be a vulnerability if it came back.

- markup built from strings in our browser scripts (XSS): data goes into the DOM as text only;
- a CORS wildcard for Socket.IO or Flask; Flask/Dash debug mode switched on in code;
- `XREADGROUP ... NOACK` (loses events on a crash); python-socketio older than 5.14 (it unpickled
  queue messages: remote code execution for anyone who can write to Redis).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = [p for p in ROOT.rglob("*.py") if not {".venv", "data", "tests", "bench"} & set(p.relative_to(ROOT).parts)]
OUR_JS = [p for p in (ROOT / "assets").glob("*.js")]  # assets/vendor/ holds third-party files


def hits(paths: list[Path], pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [f"{p.relative_to(ROOT)}:{n}" for p in paths for n, line in enumerate(p.read_text().splitlines(), 1)
            if rx.search(line)]


def test_our_scripts_never_build_markup_from_strings() -> None:
    assert OUR_JS, "assets/*.js not found"
    assert hits(OUR_JS, r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function") == []


def test_no_cors_wildcard_and_no_debug_mode_in_code() -> None:
    assert hits(OURS, r"cors_allowed_origins\s*=\s*['\"]\*") == []
    assert hits(OURS, r"Access-Control-Allow-Origin['\"]?\]?\s*[:=]\s*['\"]\*") == []
    assert hits(OURS, r"debug\s*=\s*True|\.run\([^)]*debug=True") == []


def test_no_noack_reads() -> None:
    assert hits(OURS, r"noack\s*=\s*True|['\"]NOACK['\"]") == []


def test_python_socketio_is_new_enough() -> None:
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M))
    major, minor = (int(x) for x in pins["python-socketio[client]"].split(".")[:2])
    assert (major, minor) >= (5, 14)
    flask = tuple(int(x) for x in pins["flask"].split("."))
    assert flask >= (3, 1, 3), "Flask >= 3.1.3 (Vary: Cookie fixes)"
