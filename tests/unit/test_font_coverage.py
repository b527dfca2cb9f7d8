"""The shipped font "CC Sans" (assets/vendor/fonts/) has every character the product prints, in every weight.

A character the font lacks falls back to whatever the wall PC has, or to a box. The check reads the real
woff2 files' cmaps through the stylesheet's unicode-ranges, as a browser does: for each character the one
face whose range holds it must have it, or the browser downloads a chunk and still falls back.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ttLib = pytest.importorskip("fontTools.ttLib")
pytest.importorskip("brotli")  # woff2

ROOT = Path(__file__).resolve().parents[2]
FONTS = ROOT / "assets" / "vendor" / "fonts"
CSS = FONTS / "cc-sans.css"
WEIGHTS = {400, 500, 600, 700}  # the CSS uses 400, 500, 600; 700 is the browsers' bold
# Where the product's own text lives: screen titles, UI labels, the simulated compound's unit, building and
# person names, the access-layer systems' names, the sign-in and admin pages, the browser scripts' strings.
PRODUCT_TEXT = ["screens/**/*.yaml", "layouts/*.py", "domain/*.py", "domain/*.yaml", "datasources/**/*.py",
                "auth/*pages.py", "assets/*.js"]
FACE = re.compile(r"@font-face\s*{(.*?)}", re.S)


def gb2312_hanzi() -> set[str]:
    """The 6,763 hanzi of GB 2312: rows 16-87, lead bytes 0xB0-0xF7."""
    out = set()
    for lead in range(0xB0, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                out.add(bytes([lead, trail]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def product_text() -> dict[str, set[str]]:
    """Every non-ASCII character of the product's text files, with the files it appears in."""
    where: dict[str, set[str]] = {}
    for pattern in PRODUCT_TEXT:
        for path in ROOT.glob(pattern):
            for ch in set(path.read_text(encoding="utf-8")):
                if ord(ch) > 0x7F:
                    where.setdefault(ch, set()).add(str(path.relative_to(ROOT)))
    return where


def parse_range(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().removeprefix("U+").partition("-")
        out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


@cache
def faces() -> list[dict]:
    """The stylesheet's faces with their weight, file, declared code points and the file's real cmap."""
    out = []
    for body in FACE.findall(CSS.read_text(encoding="utf-8")):
        props = dict(re.findall(r"([\w-]+)\s*:\s*([^;]+);", body))
        file = FONTS / re.search(r'url\("([^"]+)"\)', props["src"]).group(1)  # type: ignore[union-attr]
        out.append({"family": props["font-family"], "weight": int(props["font-weight"]),
                    "display": props["font-display"], "file": file, "declared": parse_range(props["unicode-range"]),
                    "cmap": set(ttLib.TTFont(file).getBestCmap())})
    return out


def missing(chars: set[str], weight: int) -> set[str]:
    """The characters that the face a browser picks for them (by unicode-range) does not have."""
    ours = [f for f in faces() if f["weight"] == weight]
    return {ch for ch in chars if not any(ord(ch) in f["declared"] and ord(ch) in f["cmap"] for f in ours)}


def test_the_stylesheet_declares_one_family_in_four_weights_and_never_flashes() -> None:
    assert {f["family"] for f in faces()} == {'"CC Sans"'}
    assert {f["weight"] for f in faces()} == WEIGHTS
    assert {f["display"] for f in faces()} == {"block"}
    assert {f["file"].name for f in faces()} == {p.name for p in FONTS.glob("*.woff2")}, "unlisted or missing files"


def test_each_file_holds_only_what_its_range_declares_and_ranges_do_not_overlap() -> None:
    for weight in WEIGHTS:
        seen: set[int] = set()
        for f in [f for f in faces() if f["weight"] == weight]:
            assert f["cmap"] <= f["declared"], f"{f['file'].name} has characters no page can reach"
            assert not f["declared"] & seen, f"{f['file'].name} overlaps another chunk of weight {weight}"
            seen |= f["declared"]


@pytest.mark.parametrize("weight", sorted(WEIGHTS))
def test_all_gb2312_hanzi_ascii_punctuation_and_full_width_forms(weight: int) -> None:
    hanzi = gb2312_hanzi()
    assert len(hanzi) == 6763
    basics = {chr(c) for c in [*range(0x20, 0x7F), *range(0x3000, 0x3004), *range(0x3008, 0x3012),
                               *range(0xFF01, 0xFF5F)]}
    assert missing(hanzi | basics, weight) == set()


@pytest.mark.parametrize("weight", sorted(WEIGHTS))
def test_every_character_of_the_products_own_text(weight: int) -> None:
    where = product_text()
    assert sum(1 for ch in where if "\u4e00" <= ch <= "\u9fff") > 500, "product text not found"
    gaps = {ch: sorted(where[ch])[:3] for ch in missing(set(where), weight)}
    assert gaps == {}, f"not in CC Sans {weight}; add to scripts/build_font.py's sets and rebuild: {gaps}"


def test_the_figures_are_tabular_without_a_tnum_feature() -> None:
    """`font-variant-numeric: tabular-nums` does nothing in a font without `tnum`: the default digits must
    already share one width, or live numbers jitter as they change."""
    for f in faces():
        if ord("0") in f["cmap"]:
            font = ttLib.TTFont(f["file"])
            cmap, hmtx = font.getBestCmap(), font["hmtx"]
            assert len({hmtx[cmap[ord(d)]][0] for d in "0123456789"}) == 1, f["file"].name


def test_the_font_stays_within_its_size_budget() -> None:
    total = sum(p.stat().st_size for p in FONTS.glob("*.woff2"))
    assert total <= 12 * 1024 * 1024, f"{total / 2**20:.1f} MB of fonts"
    core = [f["file"].stat().st_size for f in faces() if f["file"].name.endswith("-core.woff2")]
    assert len(core) == len(WEIGHTS) and max(core) <= 256 * 1024, "the chunk every page loads grew"
