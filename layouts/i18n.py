"""Fixed UI strings of the live pages, Chinese first, English on request (`?lang=en`).

One table so the Python layout and the browser script (which reads the strings from
`data-*` attributes the layout writes) can never disagree. `{n}` is filled in by the
browser script with a running number (seconds lost, minutes late).
"""

from __future__ import annotations

LANGS = ("zh", "en")

_STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("智慧机关事务", "Smart Government Offices"),
    "page_title": ("实时数据总览", "Live data overview"),
    "status_connecting": ("正在连接", "Connecting"),
    "status_syncing": ("正在同步", "Syncing"),
    "status_connected": ("已连接", "Connected"),
    "status_lost_s": ("连接中断 {n} 秒", "Connection lost {n} s"),
    "status_lost_min": ("连接中断 {n} 分钟", "Connection lost {n} min"),
    "banner_hint": ("数据暂停更新，恢复后自动同步", "numbers are not current and resync when the link returns"),
    "today_events": ("今日事件数", "Events today"),
    "last_minute": ("近1分钟", "Last minute"),
    "newest": ("最新数据", "Newest event"),
    "late": ("数据延迟 {n} 分钟", "late {n} min"),
    "no_data": ("暂无数据", "no data"),
    "chart_title": ("每分钟事件数 · 近60分钟 · 全部系统", "Events per minute · last 60 min · all systems"),
    "chart_trace": ("事件数", "events"),
}


def normalize_lang(lang: str | None) -> str:
    """Map any requested language to a supported one, so a bad `?lang=` falls back to Chinese."""
    return "en" if (lang or "").lower().startswith("en") else "zh"


def t(key: str, lang: str = "zh") -> str:
    """The fixed string `key` in `lang`; an unknown key raises KeyError so a typo fails in tests, not on a wall."""
    zh, en = _STRINGS[key]
    return en if normalize_lang(lang) == "en" else zh


def keys() -> tuple[str, ...]:
    """All string keys, for tests that check both languages are filled in."""
    return tuple(_STRINGS)
