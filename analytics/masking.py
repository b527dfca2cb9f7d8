"""Server-side masking of personal data (PIPL; GB/T 35273 display restriction).

Masking happens on the server before anything is emitted, rendered or exported, so an unmasked value
never reaches a browser not entitled to it. Audiences: a public wall, the duty officer's default view,
and a user with the unmask permission (the caller audits that). None means "do not send at all";
`mask_record` then drops the field. `find_leaks` lets wall and export tests prove nothing slipped through.

Choices beyond the SECURITY.md table (all fail towards hiding more):
- Latin-script names: WALL keeps the first character and stars every other letter; OFFICER keeps
  the first letter of each word. Separators (spaces, "·", "-", ".", "'") are kept as they are.
- Phone, ID and card numbers are compacted (spaces and dashes removed) before masking.
- Values too short for the head/tail rule keep at most their last 4 characters, and a value of
  4 characters or fewer is starred completely.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Audience(enum.StrEnum):
    WALL = "wall"
    OFFICER = "officer"
    FULL = "full"


class FieldKind(enum.StrEnum):
    NAME = "name"
    CHILD = "child"
    ID_CARD = "id_card"
    PHONE = "phone"
    CARD = "card"
    VISITOR_PLATE = "visitor_plate"
    FLEET_PLATE = "fleet_plate"
    PHOTO = "photo"
    PLAIN = "plain"


# Compound surnames of the traditional surname lists (百家姓) plus common later ones.
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    "欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫 宗政 濮阳 公冶 太叔 申屠 "
    "公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 宰父 谷梁 "
    "拓跋 夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 梁丘 左丘 西门 第五 公乘 东里 即墨 达奚 完颜 耶律".split()
)

_SEPARATORS = frozenset(" \t·•・-.'")
_STAR = "*"
_CJK_START = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")  # a name in Chinese characters


def split_surname(name: str) -> tuple[str, str]:
    """Split a Chinese name into (surname, given name) so masks keep exactly the surname.

    Two characters when they form a compound surname and the name is longer than 2, else one.
    """
    n = 2 if len(name) > 2 and name[:2] in COMPOUND_SURNAMES else 1
    return name[:n], name[n:]


def _star(text: str) -> str:
    """Star every character except separators (they reveal nothing and keep the shape readable)."""
    return "".join(ch if ch in _SEPARATORS else _STAR for ch in text)


def _latin(name: str, every_word: bool) -> str:
    out, word_start = [], True
    for i, ch in enumerate(name):
        if ch in _SEPARATORS:
            out.append(ch)
            word_start = True
            continue
        out.append(ch if i == 0 or (every_word and word_start) else _STAR)
        word_start = False
    return "".join(out)


def _surname_only(name: str) -> str:
    surname, given = split_surname(name)
    return surname + _star(given)


def mask_name(name: str | None, audience: Audience) -> str | None:
    """Mask a person's name: a wall shows only the surname, an officer also the last character."""
    audience = Audience(audience)  # an unknown audience raises: fail closed rather than guess
    if not name or audience is Audience.FULL:
        return name
    name = name.strip()
    if not _CJK_START.match(name):
        return _latin(name, every_word=audience is Audience.OFFICER)
    if audience is Audience.WALL:
        return _surname_only(name)
    surname, given = split_surname(name)  # officers also see the last character of a 2+ char given name
    return surname + (_star(given[:-1]) + given[-1] if len(given) >= 2 else _star(given))


def mask_child(name: str | None, audience: Audience) -> str | None:
    """Mask a kindergarten child's name: never on a wall (counts only), surname only for officers."""
    audience = Audience(audience)
    if not name or audience is Audience.FULL:
        return name
    if audience is Audience.WALL:
        return None
    name = name.strip()
    if not _CJK_START.match(name):
        return _latin(name, every_word=False)
    return _surname_only(name)


def _compact(value: str) -> str:
    return re.sub(r"[\s-]", "", value)


def _keep_ends(value: str, head: int) -> str:
    """Keep `head` leading and the last 4 characters (callers ensure something is hidden)."""
    return value[:head] + _STAR * (len(value) - head - 4) + value[-4:] if len(value) > 4 else _STAR * len(value)


def mask_id_card(value: str | None, audience: Audience) -> str | None:
    """Mask a resident ID number: never on a wall; officers see region (first 6) and last 4."""
    audience = Audience(audience)
    if not value or audience is Audience.FULL:
        return value
    if audience is Audience.WALL:
        return None
    value = _compact(value)
    return _keep_ends(value, 6 if len(value) >= 15 else 0)


def mask_phone(value: str | None, audience: Audience) -> str | None:
    """Mask a phone number as 138****5678 for walls and officers; enough to tell callers apart."""
    audience = Audience(audience)
    if not value or audience is Audience.FULL:
        return value
    value = _compact(value)
    return _keep_ends(value, 3 if len(value) >= 11 else 0)


def mask_card(value: str | None, audience: Audience) -> str | None:
    """Mask a card/staff/bank number; a wall hides even the length (always 4 stars + last 4)."""
    audience = Audience(audience)
    if not value or audience is Audience.FULL:
        return value
    value = _compact(value)
    if audience is Audience.WALL:
        return _STAR * 4 + (value[-4:] if len(value) > 4 else "")
    return _keep_ends(value, 4 if len(value) > 8 else 0)


def mask_visitor_plate(value: str | None, audience: Audience) -> str | None:
    """Mask a visitor's plate as 京A1***8: province, letter, first and last serial characters stay."""
    audience = Audience(audience)
    if not value or audience is Audience.FULL:
        return value
    value = value.strip().upper()
    positions = [i for i, ch in enumerate(value) if ch not in _SEPARATORS]
    keep = set(positions[:3] + positions[-1:]) if len(positions) >= 5 else set(positions[:2])
    return "".join(ch if i in keep or ch in _SEPARATORS else _STAR for i, ch in enumerate(value))


_MASKERS = {FieldKind.NAME: mask_name, FieldKind.CHILD: mask_child, FieldKind.ID_CARD: mask_id_card,
            FieldKind.PHONE: mask_phone, FieldKind.CARD: mask_card, FieldKind.VISITOR_PLATE: mask_visitor_plate}


def mask_value(kind: FieldKind, value: Any, audience: Audience) -> Any:
    """Mask one value by field kind, so callers declare kinds once instead of picking functions."""
    kind, audience = FieldKind(kind), Audience(audience)
    if audience is Audience.FULL or kind in (FieldKind.FLEET_PLATE, FieldKind.PLAIN):
        return value  # unit assets and non-personal data are shown in full
    if kind is FieldKind.PHOTO:
        return None  # never the original photo; the caller shows a blurred thumbnail
    if value is None or value == "":
        return value
    return _MASKERS[kind](value if isinstance(value, str) else str(value), audience)


def mask_record(record: Mapping[str, Any], kinds: Mapping[str, FieldKind], audience: Audience) -> dict[str, Any]:
    """Return a masked copy of `record`; fields masked to None are dropped so they are never sent."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        masked = mask_value(kinds[key], value, audience) if key in kinds else value
        if masked is not None or key not in kinds:
            out[key] = masked
    return out


@dataclass(frozen=True)
class Leak:
    kind: str  # "phone" | "id_card" | "name" | "plate"
    value: str
    position: int


_PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_RE = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit_ok(value: str) -> bool:
    """GB 11643 check digit; used to keep long numeric ids from being reported as ID numbers."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == value[17].upper()


def _name_leaks(text: str, names: Iterable[str]) -> list[Leak]:
    # One regex jump to each possible first character, then a set lookup per distinct name length
    # (longest first): cost grows with the text, not with the number of known names.
    known = {n.strip() for n in names if n and len(n.strip()) >= 2}
    if not known:
        return []
    lengths: dict[str, set[int]] = {}
    for name in known:
        lengths.setdefault(name[0], set()).add(len(name))
    by_first = {ch: sorted(ls, reverse=True) for ch, ls in lengths.items()}
    starts = re.compile("[" + "".join(re.escape(c) for c in by_first) + "]")
    leaks, pos = [], 0
    while (m := starts.search(text, pos)) is not None:
        i = pos = m.start()
        pos += 1
        for size in by_first[text[i]]:
            if text[i:i + size] in known:
                leaks.append(Leak("name", text[i:i + size], i))
                pos = i + size
                break
    return leaks


def _plate_leaks(text: str, plates: Iterable[str]) -> list[Leak]:
    # A listed plate is found with or without the "·" (or a space) after the province and letter.
    parts = set()
    for plate in plates:
        compact = "".join(ch for ch in plate.upper() if ch not in _SEPARATORS)
        if len(compact) >= 3:
            parts.add(re.escape(compact[:2]) + r"[·\s]?" + re.escape(compact[2:]))
    if not parts:
        return []
    pattern = re.compile("|".join(sorted(parts, key=len, reverse=True)))
    return [Leak("plate", m.group(), m.start()) for m in pattern.finditer(text)]


def find_leaks(text: str, known_names: Iterable[str] = (), plates: Iterable[str] = ()) -> list[Leak]:
    """Find unmasked personal data in rendered text, so wall and export tests can prove masking.

    Mobile numbers and valid (check-digit) ID numbers are found by pattern; names and visitor
    plates only when listed, because fleet plates and surnames-only are legitimately shown.
    """
    leaks = [Leak("phone", m.group(), m.start()) for m in _PHONE_RE.finditer(text)]
    leaks += [Leak("id_card", m.group(), m.start()) for m in _ID_RE.finditer(text) if id_check_digit_ok(m.group())]
    leaks += _name_leaks(text, known_names)
    leaks += _plate_leaks(text, plates)
    return sorted(leaks, key=lambda leak: (leak.position, leak.kind))
