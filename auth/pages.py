"""The login, second-factor, enrolment and password pages: small server-rendered HTML, zh first.

Plain Jinja with autoescaping (every value is text, never markup, except the QR code's SVG which
this server generated itself), no script at all, and a form token in each form.
"""

from __future__ import annotations

from flask import render_template_string
from markupsafe import Markup

TEXT: dict[str, tuple[str, str]] = {
    "app": ("智慧机关事务 · 指挥中心", "Smart Government Offices · Command Center"),
    "login": ("登录", "Sign in"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "submit": ("登录", "Sign in"),
    "bad_login": ("用户名或密码错误", "Wrong username or password"),
    "locked": ("登录失败次数过多，请 {n} 分钟后再试或联系安全管理员", "Too many failed sign-ins: try again in {n} min "
               "or ask the security administrator"),
    "second_factor": ("动态验证码", "One-time code"),
    "code_hint": ("请输入身份验证器应用中的 6 位数字", "Enter the 6 digits your authenticator app shows"),
    "bad_code": ("验证码无效或已使用", "The code is wrong or was already used"),
    "verify": ("验证", "Verify"),
    "enrol": ("绑定身份验证器", "Set up your authenticator"),
    "enrol_hint": ("管理员账号须使用双因素登录。请用身份验证器应用扫描二维码，然后输入显示的 6 位数字。",
                   "Administrator accounts sign in with two factors. Scan the code with an authenticator app, "
                   "then enter the 6 digits it shows."),
    "secret": ("无法扫码时手动输入密钥", "Key for manual entry"),
    "change_password": ("修改密码", "Change password"),
    "must_change": ("首次登录或密码已过期，请设置新密码", "First sign-in or expired password: choose a new one"),
    "expiry_warn": ("密码将在 {n} 天后过期", "Your password expires in {n} days"),
    "old_password": ("原密码", "Current password"),
    "new_password": ("新密码", "New password"),
    "repeat": ("再次输入新密码", "Repeat the new password"),
    "mismatch": ("两次输入的新密码不一致", "The two new passwords differ"),
    "save": ("保存", "Save"),
    "changed": ("密码已修改", "Password changed"),
    "logout": ("退出", "Sign out"),
    "sso": ("统一身份认证登录", "Sign in with single sign-on"),
    "no_access": ("无权访问", "No access"),
    "no_access_hint": ("您的账号没有查看此页面的权限。如需开通，请联系安全管理员。",
                       "Your account may not see this page. Ask the security administrator for access."),
    "home": ("返回首页", "Home"),
    "other_lang": ("English", "中文"),
    "too_many": ("请求过于频繁，请 {n} 秒后再试", "Too many attempts: wait {n} s"),
    "pair_failed": ("配对失败", "Pairing failed"),
    "pair_failed_hint": ("配对码无效、已使用或已过期（24 小时）。请让管理员重新生成配对链接。",
                         "The pairing code is wrong, used or expired (24 h). Ask an administrator for a new link."),
    "wall_revoked": ("此显示终端的配对已撤销", "Paired display revoked"),
    "wall_revoked_hint": ("本终端已不再显示数据。如需恢复，请让管理员重新生成配对链接。",
                          "This display no longer shows data. Ask an administrator for a new pairing link."),
}


def t(key: str, lang: str, **kw: object) -> str:
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**kw)


_PAGE = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ heading }} · {{ t('app', lang) }}</title>
<link rel="stylesheet" href="/assets/vendor/fonts/cc-sans.css"><link rel="stylesheet" href="/assets/auth.css"></head>
<body class="au-body"><main class="au-card">
<h1 class="au-app">{{ t('app', lang) }}</h1><h2>{{ heading }}</h2>
{% for m in errors %}<p class="au-error" role="alert">{{ m }}</p>{% endfor %}
{% for m in notes %}<p class="au-note">{{ m }}</p>{% endfor %}
{% if form %}<form method="post" autocomplete="off" action="{{ action }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
{% for name, label, kind in form %}<label>{{ label }}<input name="{{ name }}" type="{{ kind }}"
{% if kind == 'text' and loop.first %}autofocus {% endif %}
{% if name == 'code' %}inputmode="numeric" maxlength="8" {% endif %}required></label>{% endfor %}
<button type="submit">{{ button }}</button></form>{% endif %}
{% if qr %}<figure class="au-qr">{{ qr }}
<figcaption>{{ t('secret', lang) }}: <code>{{ secret }}</code></figcaption></figure>{% endif %}
{% if extra_link %}<p><a href="{{ extra_link[0] }}">{{ extra_link[1] }}</a></p>{% endif %}
<nav class="au-foot">{% if signed %}<form method="post" action="/logout">
<input type="hidden" name="csrf" value="{{ csrf }}">
<button class="au-link" type="submit">{{ t('logout', lang) }}</button></form>{% endif %}
<a href="?lang={{ 'zh' if lang == 'en' else 'en' }}">{{ t('other_lang', lang) }}</a></nav>
</main></body></html>"""


def render(lang: str, heading: str, *, form: list[tuple[str, str, str]] | None = None, button: str = "",
           action: str = "", csrf: str = "", errors: list[str] | None = None, notes: list[str] | None = None,
           qr_svg: str | None = None, secret: str = "", signed: bool = False,
           extra_link: tuple[str, str] | None = None) -> str:
    if lang == "en" and action and "?" not in action:
        action += "?lang=en"  # the answer to a post stays in the reader's language
    return render_template_string(
        _PAGE, t=t, lang=lang, heading=heading, form=form, button=button, action=action, csrf=csrf,
        errors=errors or [], notes=notes or [], qr=Markup(qr_svg) if qr_svg else None, secret=secret,
        signed=signed, extra_link=extra_link)
