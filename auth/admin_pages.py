"""Text and templates of the administration pages (auth/admin_web.py): zh first, English via ?lang=en.

Plain Jinja with autoescaping: every value (names, audit reasons, one-time passwords) is text,
never markup. No script anywhere (the CSP allows none inline); every form carries the session's
form token. Styles live in assets/admin.css, all scoped under `.ad-` because Dash loads every CSS
file of assets/ on its own pages too.
"""

from __future__ import annotations

from typing import Any

from flask import render_template_string

TEXT: dict[str, tuple[str, str]] = {
    "app": ("智慧机关事务 · 指挥中心", "Smart Government Offices · Command Center"),
    "users": ("账号管理", "Accounts"),
    "audit": ("审计日志", "Audit log"),
    "tokens": ("令牌管理", "Tokens"),
    "username": ("用户名", "Username"),
    "display_name": ("显示名", "Display name"),
    "roles": ("角色", "Roles"),
    "unit": ("单位", "Unit"),
    "unit_id": ("单位编号（可选）", "Unit id (optional)"),
    "state": ("状态", "State"),
    "actions": ("操作", "Actions"),
    "disabled": ("已停用", "disabled"),
    "active": ("正常", "active"),
    "totp": ("已绑定验证器", "TOTP enrolled"),
    "must_change": ("待改密码", "must change password"),
    "locked": ("已锁定", "locked"),
    "you": ("本人", "you"),
    "create": ("新建账号", "Create account"),
    "create_hint": ("系统管理员只能创建领导、值班员、安保、管理人员、单位管理员账号；"
                    "此后的角色变更和管理员角色由安全管理员分配。",
                    "The system administrator creates accounts with non-administrator roles only (leadership, duty "
                    "officer, security, manager, unit admin); later role changes and administrator roles are the "
                    "security administrator's."),
    "create_btn": ("创建", "Create"),
    "disable": ("停用", "Disable"),
    "enable": ("启用", "Enable"),
    "reset": ("重置密码", "Reset password"),
    "reset_totp": ("同时重置验证器", "also reset authenticator"),
    "save_roles": ("保存角色", "Save roles"),
    "unlock": ("解除锁定", "Unlock"),
    "admin_row": ("管理员账号请在服务器命令行管理", "Administrator accounts: use the command line on the server"),
    "one_time": ("一次性密码", "One-time password"),
    "one_time_for": ("账号 {name} 的一次性密码（仅显示这一次，请当面或经安全渠道交给本人）：",
                     "One-time password of {name} (shown only this once; hand it over in person or by a safe "
                     "channel):"),
    "one_time_note": ("用户首次登录时必须修改此密码。", "The user must change it at the first sign-in."),
    "created": ("已创建账号 {name}", "Account {name} created"),
    "done_disable": ("已停用 {name}，其会话已全部结束", "{name} disabled; their sessions ended"),
    "done_enable": ("已启用 {name}", "{name} enabled"),
    "done_reset": ("已重置 {name} 的密码，其会话已全部结束", "Password of {name} reset; their sessions ended"),
    "done_roles": ("已更新 {name} 的角色，其会话已全部结束", "Roles of {name} saved; their sessions ended"),
    "done_unlock": ("已解除 {name} 的登录锁定", "Sign-in locks of {name} lifted"),
    "err_admin_role": ("系统管理员不能创建管理员角色的账号（管理员角色由安全管理员分配）",
                       "The system administrator cannot create an account with an administrator role (the security "
                       "administrator assigns those)"),
    "err_self": ("不能停用、重置或降级您本人的账号", "You cannot disable, reset or demote your own account"),
    "err_admin_target": ("管理员账号不能在网页上停用、启用或重置，请在服务器上使用命令行",
                         "Administrator accounts cannot be disabled, enabled or reset here: use the command line "
                         "on the server"),
    "err_action": ("未知操作", "Unknown action"),
    "err_field": ("{field} 过长", "{field} is too long"),
    "err_username": ("用户名无效", "Invalid username"),
    "from": ("起始日期", "From"),
    "to": ("截止日期", "To"),
    "actor": ("操作者包含", "Actor contains"),
    "event": ("事件", "Event"),
    "result": ("结果", "Result"),
    "any": ("全部", "any"),
    "search": ("查询", "Search"),
    "export": ("导出 CSV", "Export CSV"),
    "verify": ("校验完整性", "Verify the chain"),
    "intact": ("审计日志完整", "Audit log intact"),
    "tampered": ("审计日志被篡改：{n} 处问题", "Audit log tampered: {n} problem(s)"),
    "bad_date": ("日期格式应为 YYYY-MM-DD：{v}", "Dates are YYYY-MM-DD: {v}"),
    "col_id": ("编号", "Id"),
    "col_time": ("时间（北京时间）", "Time (Asia/Shanghai)"),
    "col_actor": ("操作者", "Actor"),
    "col_address": ("地址", "Address"),
    "col_object": ("对象", "Object"),
    "col_reason": ("原因", "Reason"),
    "col_detail": ("详情", "Detail"),
    "count": ("共 {n} 条，第 {page}/{pages} 页", "{n} records, page {page} of {pages}"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "none": ("没有符合条件的记录", "No matching records"),
    "change_password": ("修改密码", "Change password"),
    "logout": ("退出", "Sign out"),
    "other_lang": ("English", "中文"),
    "too_many_exports": ("导出过于频繁，请 {n} 秒后再试", "Too many exports: try again in {n} s"),
    # tokens (auth/admin_tokens.py)
    "kind_display": ("大屏令牌", "display"),
    "kind_source": ("数据源令牌", "source"),
    "issue_display": ("签发大屏令牌", "Issue a display token"),
    "issue_display_hint": ("大屏令牌绑定一个大屏或轮播。签发后得到一次性配对链接，"
                           "须在 24 小时内于该大屏的浏览器中打开一次。",
                           "A display token is bound to one screen or playlist. Issuing it gives a one-time pairing "
                           "link, to be opened once in that wall's browser within 24 hours."),
    "issue_source": ("签发数据源令牌", "Issue a source token"),
    "issue_source_hint": ("数据源令牌只能向所选系统的数据流写入，对接方在请求中以 Authorization: Bearer 发送。",
                          "A source token may write to the chosen system's stream only; the client sends it as "
                          "Authorization: Bearer."),
    "wall": ("大屏 / 轮播", "Screen or playlist"),
    "system": ("业务系统", "System"),
    "label": ("备注", "Label"),
    "issue_btn": ("签发", "Issue"),
    "no_walls": ("尚未配置任何大屏，暂不能签发大屏令牌", "No walls are configured: display tokens cannot be issued"),
    "no_tokens": ("尚无令牌", "No tokens yet"),
    "col_token": ("令牌编号", "Token id"),
    "col_kind": ("类型", "Kind"),
    "col_scope": ("范围", "Scope"),
    "col_created": ("创建人 / 时间", "Created by / at"),
    "st_active": ("有效", "active"),
    "st_paired": ("已配对", "paired"),
    "st_pending": ("待配对（配对码 {at} 前有效）", "awaiting pairing (code valid until {at})"),
    "st_code_expired": ("配对码已过期，未配对", "pairing code expired, never paired"),
    "st_expires": ("{at} 到期", "expires {at}"),
    "st_expired": ("已过期", "expired"),
    "st_revoked": ("已吊销（{at}）", "revoked ({at})"),
    "revoke": ("吊销", "Revoke"),
    "pair_url_for": ("大屏令牌 {id}（{scope}）的配对链接（仅显示这一次）：",
                     "Pairing link of display token {id} ({scope}) (shown only this once):"),
    "pair_note": ("请在 24 小时内于该大屏的浏览器中打开一次，打开后链接即失效；离开本页后无法再次查看。",
                  "Open it once in the wall's browser within 24 hours; it stops working once used. It cannot be "
                  "shown again after you leave this page."),
    "bearer_for": ("数据源令牌 {id}（{scope}）（仅显示这一次，请经安全渠道交给对接方）：",
                   "Source token {id} ({scope}) (shown only this once; hand it over by a safe channel):"),
    "bearer_note": ("服务器只保存其摘要；遗失后只能吊销并重新签发。",
                    "The server keeps only a digest of it: if lost, revoke it and issue a new one."),
    "done_revoke": ("已吊销令牌 {id}；已配对的大屏将在数秒内黑屏",
                    "Token {id} revoked; a paired wall blanks within seconds"),
    "err_kind": ("未知的令牌类型", "Unknown token kind"),
    "err_wall": ("请选择已配置的大屏或轮播", "Choose a configured screen or playlist"),
    "err_system": ("请选择已知的业务系统", "Choose a known system"),
    "err_label": ("备注最多 128 个字符", "Label: at most 128 characters"),
    "err_token": ("没有编号为 {id} 的令牌", "No token with id {id}"),
}


def t(key: str, lang: str, **kw: object) -> str:
    """One UI string in the page's language; the zh text is the product's own, English the courtesy."""
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**kw)


_HEAD = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ heading }} · {{ t('app', lang) }}</title>
<link rel="stylesheet" href="/assets/vendor/fonts/cc-sans.css"><link rel="stylesheet" href="/assets/admin.css"></head>
<body class="ad-body"><header class="ad-top">
<span class="ad-app">{{ t('app', lang) }}</span>
<nav class="ad-nav">{% for href, label, on in nav %}
<a href="{{ href }}"{% if on %} class="ad-on"{% endif %}>{{ label }}</a>{% endfor %}</nav>
<span class="ad-who">{{ who }}</span>
<a href="/account/password{{ q }}">{{ t('change_password', lang) }}</a>
<form class="ad-inline" method="post" action="/logout"><input type="hidden" name="csrf" value="{{ csrf }}">
<button class="ad-link" type="submit">{{ t('logout', lang) }}</button></form>
<a href="{{ other_lang }}">{{ t('other_lang', lang) }}</a></header>
<main class="ad-main"><h1>{{ heading }}</h1>
{% for m in errors %}<p class="ad-error" role="alert">{{ m }}</p>{% endfor %}
{% for m in notes %}<p class="ad-note" role="status">{{ m }}</p>{% endfor %}
"""
_FOOT = "</main></body></html>"

_USERS = _HEAD + """
{% if secret %}<section class="ad-secret" aria-live="polite"><p>{{ t('one_time_for', lang, name=secret[0]) }}</p>
<p><code class="ad-pw">{{ secret[1] }}</code></p>
<p class="ad-muted">{{ t('one_time_note', lang) }}</p></section>{% endif %}
{% if can_users %}<details class="ad-create"{% if open_create %} open{% endif %}>
<summary>{{ t('create', lang) }}</summary>
<p class="ad-muted">{{ t('create_hint', lang) }}</p>
<form method="post" action="/admin/users{{ q }}" autocomplete="off" class="ad-form">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label>{{ t('username', lang) }}
<input name="username" required maxlength="64" pattern="[A-Za-z0-9._@\\-]{1,64}"></label>
<label>{{ t('display_name', lang) }}<input name="display_name" maxlength="64"></label>
<label>{{ t('unit_id', lang) }}<input name="unit_id" maxlength="32"></label>
<fieldset class="ad-roles"><legend>{{ t('roles', lang) }}</legend>
{% for value, title in creatable %}<label class="ad-check"><input type="checkbox" name="role" value="{{ value }}">
{{ title }}</label>{% endfor %}</fieldset>
<button type="submit">{{ t('create_btn', lang) }}</button></form></details>{% endif %}
<table class="ad-table"><thead><tr><th>{{ t('username', lang) }}</th><th>{{ t('display_name', lang) }}</th>
<th>{{ t('roles', lang) }}</th><th>{{ t('unit', lang) }}</th><th>{{ t('state', lang) }}</th>
<th>{{ t('actions', lang) }}</th></tr></thead><tbody>
{% for u in rows %}<tr{% if u.disabled %} class="ad-off"{% endif %}>
<td>{{ u.username }}{% if u.self %} <span class="ad-tag">{{ t('you', lang) }}</span>{% endif %}</td>
<td>{{ u.display_name }}</td><td>{{ u.role_titles | join('、' if lang != 'en' else ', ') }}</td>
<td>{{ u.unit_id or '—' }}</td><td>
{% if u.disabled %}<span class="ad-tag ad-bad">{{ t('disabled', lang) }}</span>{% else %}<span class="ad-tag ad-ok">
{{ t('active', lang) }}</span>{% endif %}
{% if u.totp %}<span class="ad-tag">{{ t('totp', lang) }}</span>{% endif %}
{% if u.must_change %}<span class="ad-tag ad-warn">{{ t('must_change', lang) }}</span>{% endif %}
{% if u.locked %}<span class="ad-tag ad-bad">{{ t('locked', lang) }}</span>{% endif %}</td><td class="ad-acts">
{% if can_users and not u.self %}{% if u.admin %}<span class="ad-muted">{{ t('admin_row', lang) }}</span>{% else %}
<form class="ad-inline" method="post" action="/admin/users/{{ u.quoted }}/action{{ q }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<button name="action" value="{{ 'enable' if u.disabled else 'disable' }}" type="submit">
{{ t('enable' if u.disabled else 'disable', lang) }}</button></form>
<form class="ad-inline" method="post" action="/admin/users/{{ u.quoted }}/action{{ q }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label class="ad-check"><input type="checkbox" name="reset_totp" value="1">{{ t('reset_totp', lang) }}</label>
<button name="action" value="reset" type="submit">{{ t('reset', lang) }}</button></form>{% endif %}{% endif %}
{% if can_roles %}{% if not u.self %}<form class="ad-inline ad-rolesform" method="post"
action="/admin/users/{{ u.quoted }}/roles{{ q }}"><input type="hidden" name="csrf" value="{{ csrf }}">
{% for value, title in all_roles %}<label class="ad-check"><input type="checkbox" name="role" value="{{ value }}"
{% if value in u.roles %} checked{% endif %}>{{ title }}</label>{% endfor %}
<label class="ad-check">{{ t('unit', lang) }}<input class="ad-unit" name="unit_id" maxlength="32"
value="{{ u.unit_id or '' }}"></label>
<button type="submit">{{ t('save_roles', lang) }}</button></form>{% endif %}
{% if u.locked %}<form class="ad-inline" method="post" action="/admin/users/{{ u.quoted }}/unlock{{ q }}">
<input type="hidden" name="csrf" value="{{ csrf }}"><button type="submit">{{ t('unlock', lang) }}</button></form>
{% endif %}{% endif %}</td></tr>{% endfor %}</tbody></table>
""" + _FOOT

_AUDIT = _HEAD + """
{% if chain %}<p class="ad-chain {{ 'ad-ok' if not chain.problems else 'ad-bad' }}" role="status">{{ chain.line }}</p>
{% for p in chain.problems %}<p class="ad-muted">{{ p }}</p>{% endfor %}{% endif %}
<form method="get" action="/admin/audit" class="ad-form ad-filter">
{% if lang == 'en' %}<input type="hidden" name="lang" value="en">{% endif %}
<label>{{ t('from', lang) }}<input type="date" name="from" value="{{ f.start }}"></label>
<label>{{ t('to', lang) }}<input type="date" name="to" value="{{ f.end }}"></label>
<label>{{ t('actor', lang) }}<input name="actor" value="{{ f.actor }}" maxlength="128"></label>
<label>{{ t('event', lang) }}<input name="event" value="{{ f.event }}" maxlength="64" list="ad-events"></label>
<datalist id="ad-events">{% for e in events %}<option value="{{ e }}">{% endfor %}</datalist>
<label>{{ t('result', lang) }}<select name="result"><option value="">{{ t('any', lang) }}</option>
{% for r in ('ok', 'fail', 'denied') %}
<option value="{{ r }}"{% if f.result == r %} selected{% endif %}>{{ r }}</option>{% endfor %}</select></label>
<button type="submit">{{ t('search', lang) }}</button>
{% if export_href %}<a class="ad-button" href="{{ export_href }}">{{ t('export', lang) }}</a>{% endif %}
<a class="ad-button" href="{{ verify_href }}">{{ t('verify', lang) }}</a></form>
<p class="ad-muted">{{ t('count', lang, n=total, page=page, pages=pages) }}</p>
{% if rows %}<table class="ad-table ad-log"><thead><tr>
<th>{{ t('col_id', lang) }}</th><th>{{ t('col_time', lang) }}</th>
<th>{{ t('col_actor', lang) }}</th><th>{{ t('col_address', lang) }}</th><th>{{ t('event', lang) }}</th>
<th>{{ t('col_object', lang) }}</th><th>{{ t('result', lang) }}</th><th>{{ t('col_reason', lang) }}</th>
<th>{{ t('col_detail', lang) }}</th></tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row[0] }}</td><td class="ad-nowrap">{{ row[1] }}</td><td>{{ row[2] }}</td>
<td>{{ row[3] }}</td><td>{{ row[4] }}</td><td>{{ row[5] }}</td>
<td><span class="ad-tag {{ tones.get(row[6], '') }}">{{ row[6] }}</span></td>
<td>{{ row[7] }}</td><td class="ad-detail">{{ row[8] }}</td></tr>{% endfor %}</tbody></table>
{% else %}<p>{{ t('none', lang) }}</p>{% endif %}
<nav class="ad-pager">{% if prev_href %}<a href="{{ prev_href }}">{{ t('prev', lang) }}</a>{% endif %}
{% if next_href %}<a href="{{ next_href }}">{{ t('next', lang) }}</a>{% endif %}</nav>
""" + _FOOT


_TOKENS = _HEAD + """
{% if secret %}<section class="ad-secret" aria-live="polite"><p>{{ secret.intro }}</p>
<p><code class="ad-pw ad-token">{{ secret.value }}</code></p>
<p class="ad-muted">{{ secret.note }}</p></section>{% endif %}
<div class="ad-issue"><details class="ad-create"{% if open_form == 'display' %} open{% endif %}>
<summary>{{ t('issue_display', lang) }}</summary><p class="ad-muted">{{ t('issue_display_hint', lang) }}</p>
{% if walls %}<form method="post" action="/admin/tokens{{ q }}" autocomplete="off" class="ad-form">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="kind" value="display">
<label>{{ t('wall', lang) }}<select name="scope" required>{% for w in walls %}
<option value="{{ w }}">{{ w }}</option>{% endfor %}</select></label>
<label>{{ t('label', lang) }}<input name="label" maxlength="128"></label>
<button type="submit">{{ t('issue_btn', lang) }}</button></form>
{% else %}<p class="ad-muted">{{ t('no_walls', lang) }}</p>{% endif %}</details>
<details class="ad-create"{% if open_form == 'source' %} open{% endif %}>
<summary>{{ t('issue_source', lang) }}</summary><p class="ad-muted">{{ t('issue_source_hint', lang) }}</p>
<form method="post" action="/admin/tokens{{ q }}" autocomplete="off" class="ad-form">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="kind" value="source">
<label>{{ t('system', lang) }}<select name="system" required>{% for value, title in systems %}
<option value="{{ value }}">{{ title }}{% if lang == 'en' %} ({{ value }}){% else %}（{{ value }}）{% endif %}</option>
{% endfor %}</select></label>
<label>{{ t('label', lang) }}<input name="label" maxlength="128"></label>
<button type="submit">{{ t('issue_btn', lang) }}</button></form></details></div>
{% if rows %}<table class="ad-table ad-log"><thead><tr><th>{{ t('col_token', lang) }}</th>
<th>{{ t('col_kind', lang) }}</th><th>{{ t('col_scope', lang) }}</th><th>{{ t('label', lang) }}</th>
<th>{{ t('col_created', lang) }}</th><th>{{ t('state', lang) }}</th><th>{{ t('actions', lang) }}</th></tr></thead>
<tbody>{% for k in rows %}<tr{% if not k.revocable %} class="ad-off"{% endif %}>
<td><code>{{ k.id }}</code></td><td>{{ k.kind }}</td><td>{{ k.scope }}</td><td>{{ k.label }}</td>
<td>{{ k.created_by }}<br><span class="ad-nowrap ad-muted">{{ k.created_at }}</span></td>
<td><span class="ad-tag {{ k.tone }}">{{ k.state }}</span></td><td class="ad-acts">
{% if k.revocable %}<form class="ad-inline" method="post" action="/admin/tokens/{{ k.id }}/revoke{{ q }}">
<input type="hidden" name="csrf" value="{{ csrf }}"><button type="submit">{{ t('revoke', lang) }}</button></form>
{% endif %}</td></tr>{% endfor %}</tbody></table>
{% else %}<p>{{ t('no_tokens', lang) }}</p>{% endif %}
""" + _FOOT


def render_users(lang: str, **kw: Any) -> str:
    """The accounts page; the caller decides which controls the viewer's permissions allow."""
    return render_template_string(_USERS, t=t, lang=lang, heading=t("users", lang), **kw)


def render_audit(lang: str, **kw: Any) -> str:
    """The audit log page: filters, a page of records, the chain status when asked for."""
    return render_template_string(_AUDIT, t=t, lang=lang, heading=t("audit", lang),
                                  tones={"ok": "ad-ok", "fail": "ad-warn", "denied": "ad-bad"}, **kw)


def render_tokens(lang: str, **kw: Any) -> str:
    """The tokens page: issue forms, the one-time secret when just issued, every token with its state."""
    return render_template_string(_TOKENS, t=t, lang=lang, heading=t("tokens", lang), **kw)
