"""Fixed UI strings of the big-screen pages (/screens/<id>, /wall/<playlist>), Chinese first.

Strings shared with the live overview (connection state, late, no data) come from `layouts.i18n`, so
both pages say the same thing; the rest live here. `{n}` and `{t}` are filled in by `assets/screen.js`.
"""

from __future__ import annotations

from layouts import i18n
from layouts.i18n import normalize_lang

_STRINGS: dict[str, tuple[str, str]] = {
    "updated": ("{t} 更新", "updated {t}"),
    "vs_last_week": ("较上周同日", "vs same day last week"),
    "vs_last_day": ("较上一可比日", "vs last comparable day"),
    "briefing_sep": ("；", "; "),
    "no_alarms": ("无未处置告警", "No open alarms"),
    "sev_critical": ("紧急", "Critical"),
    "sev_high": ("高", "High"),
    "sev_medium": ("中", "Medium"),
    "sev_low": ("低", "Low"),
    "error_title": ("大屏配置有误", "Screen definition has errors"),
    "error_hint": ("请按以下提示修改大屏配置文件，然后刷新本页。",
                   "Fix the screen files as described below, then reload this page."),
    "error_count": ("共 {n} 处问题", "{n} problem(s)"),
}

# data-lbl-<name> on #sc-page -> string key; the names are fixed by the DOM contract with screen.js.
PAGE_LABELS: dict[str, str] = {
    "status-connecting": "status_connecting",
    "status-syncing": "status_syncing",
    "status-connected": "status_connected",
    "lost-s": "status_lost_s",
    "lost-min": "status_lost_min",
    "late": "late",
    "updated": "updated",
    "no-data": "no_data",
    "vs-last-week": "vs_last_week",
    "vs-last-day": "vs_last_day",
    "briefing-sep": "briefing_sep",
    "no-alarms": "no_alarms",
}


def st(key: str, lang: str = "zh") -> str:
    """The screen string `key` in `lang`; falls back to the shared table, and a typo raises KeyError in tests."""
    if key not in _STRINGS:
        return i18n.t(key, lang)
    zh, en = _STRINGS[key]
    return en if normalize_lang(lang) == "en" else zh


def keys() -> tuple[str, ...]:
    """The screen-only string keys, for tests that check both languages are filled in."""
    return tuple(_STRINGS)
