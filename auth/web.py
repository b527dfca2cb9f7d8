"""The web edge of identity: the guard on every request, the login flow's routes, security headers.

The guard runs before every Flask view, Dash's included: it builds the Principal from the
server-side session, looks the endpoint up in `auth.access` (no rule: refused), checks the Dash
callback's own rule from the request body, and refuses a state-changing request without a form
token or from another origin. Denials are audited. Pages are plain HTML (auth/pages.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, g, jsonify, redirect, request
from sqlalchemy import Engine

from auth import access, audit, totp
from auth.access import ANONYMOUS, Principal
from auth.accounts import Account, Accounts
from auth.audit import AuditEvent
from auth.crypto import hmac_equal
from auth.lockout import USERNAME, LoginThrottle
from auth.pages import render, t
from auth.passwords import expiry_state
from auth.roles import ADMINS, Role, needs_second_factor
from auth.sessions import FULL, Session, SessionStore

log = logging.getLogger(__name__)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}  # forms carry the session's token
STAGE_PAGES = {"mfa": "/login/code", "enrol": "/login/enrol", "password": "/account/password"}


@dataclass
class AuthContext:
    """Everything the guard and the routes need, built once by app.py."""

    engine: Engine
    accounts: Accounts
    sessions: SessionStore
    throttle: LoginThrottle
    crypto_profile: str
    origins: frozenset[str]
    secure: bool = False  # served over HTTPS (at the gateway): Secure cookies, __Host- prefix, HSTS
    second_factor_roles: frozenset[Role] = frozenset()
    # Dash's inline scripts (renderer start, clientside callbacks): read per response, because Dash
    # adds some only while setting up on the first request
    csp_script_hashes: Callable[[], list[str]] = list
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    sso_enabled: bool = False  # the login page offers single sign-on (auth/sso_web.py)
    sso_label: str = ""  # its link's text; default 统一身份认证登录 / Sign in with single sign-on
    admin_networks: tuple[IPv4Network | IPv6Network, ...] = ()  # empty: administrators from anywhere
    tokens: Any = None  # auth.tokens.Tokens: display (wall) and source tokens

    def admin_address_ok(self, roles: Iterable[Role]) -> bool:
        """Administrators only from the configured networks (MLPS: limit management terminals)."""
        if not self.admin_networks or not set(roles) & ADMINS:
            return True
        try:
            addr = ip_address(client_address())
        except ValueError:
            return False
        return any(addr in net for net in self.admin_networks)

    @property
    def cookie(self) -> str:
        return "__Host-cc_session" if self.secure else "cc_session"

    @property
    def wall_cookie(self) -> str:
        return "__Host-cc_wall" if self.secure else "cc_wall"

    def wall_principal(self, cookie: str | None) -> Principal | None:
        """The paired wall a display cookie stands for, or None (no cookie, revoked, expired, forged)."""
        if not cookie or self.tokens is None:
            return None
        info = self.tokens.verify_wall(cookie)
        return Principal.wall(info.id, info.scope) if info is not None else None

    def audit(self, event: str, *, result: str = "ok", obj: str = "", reason: str = "", actor: str | None = None,
              detail: dict | None = None) -> None:
        who: Principal = g.get("principal", ANONYMOUS)
        audit.record(self.engine, AuditEvent(actor=actor or who.actor, event=event, result=result, object=obj,
                                             reason=reason, address=client_address(), detail=detail or {}),
                     now=self.clock(), profile=self.crypto_profile)


def client_address() -> str:
    return request.remote_addr or ""


def lang() -> str:
    return "en" if request.args.get("lang") == "en" else "zh"


def principal_of(s: Session | None) -> Principal:
    if s is None:
        return ANONYMOUS
    return Principal.person(s.user_id, s.username, frozenset(Role(r) for r in s.roles), s.unit_id, s.stage)


def install_guard(server: Flask, ctx: AuthContext) -> None:
    @server.before_request
    def guard() -> Response | None:
        s = ctx.sessions.get(request.cookies.get(ctx.cookie))
        g.session, g.principal = s, principal_of(s)
        if s is None and ctx.wall_cookie in request.cookies:
            g.principal = ctx.wall_principal(request.cookies.get(ctx.wall_cookie)) or ANONYMOUS
        bearer = request.headers.get("Authorization", "")
        if s is None and bearer.startswith("Bearer ") and ctx.tokens is not None:
            info = ctx.tokens.verify_source(bearer[7:].strip())
            g.principal = Principal.source(info.id, info.scope) if info is not None else ANONYMOUS
        if s is not None and not ctx.admin_address_ok(g.principal.roles):
            g.session, g.principal = None, ANONYMOUS
            return deny(ctx, "administrator session from outside ADMIN_NETWORKS", status=403)
        if request.endpoint is None:
            return None  # 404 / 405: Flask answers, nothing to protect
        rule = access.rule_for(access.ROUTES, request.endpoint)
        if rule is None:
            return deny(ctx, f"no access rule for endpoint {request.endpoint}")
        # a request that authenticates with a header (not a cookie) cannot be forged cross-site
        if request.method in STATE_CHANGING and not bearer.startswith("Bearer "):
            bad = csrf_problem(ctx, s)
            if bad:
                return deny(ctx, bad, status=403)
        if not access.allows(rule, g.principal):
            return deny(ctx, f"{request.endpoint} requires {rule}")
        if request.endpoint == "/_dash-update-component":
            body = request.get_json(silent=True) or {}
            output = body.get("output", "") if isinstance(body, dict) else ""
            cb_rule = access.rule_for(access.CALLBACKS, output)
            if cb_rule is None or not access.allows(cb_rule, g.principal):
                return deny(ctx, f"callback {output[:80]} requires {cb_rule or 'a rule'}")
        return None

    @server.errorhandler(Exception)
    def failed(exc: Exception) -> Response:
        """A generic answer: no stack trace, no exception text leaves the server (it goes to the log)."""
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return exc  # type: ignore[return-value]
        log.exception("unhandled error on %s %s", request.method, request.path)
        resp = jsonify({"error": "internal error"})
        resp.status_code = 500
        return resp

    @server.after_request
    def headers(resp: Response) -> Response:
        h = resp.headers
        scripts = " ".join(["'self'", *ctx.csp_script_hashes()])
        h["Content-Security-Policy"] = (
            f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            "form-action 'self'")
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "same-origin"
        h["X-Frame-Options"] = "DENY"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        if ctx.secure:
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        static = request.endpoint in ("static", "_dash_assets.static") or (request.endpoint or "").startswith(
            "/_dash-component-suites")
        if not static:
            h["Cache-Control"] = "no-store"
            h.add("Vary", "Cookie")
        return resp


def csrf_problem(ctx: AuthContext, s: Session | None) -> str | None:
    """Why a state-changing request is refused: forms carry the session's token, the rest is same-origin JSON."""
    origin = request.headers.get("Origin") or _origin_of(request.headers.get("Referer", ""))
    if origin and origin not in ctx.origins:
        return f"cross-origin request from {origin}"
    if request.mimetype in FORM_TYPES:
        expected = s.csrf if s is not None else request.cookies.get("cc_pre", "")
        sent = request.form.get("csrf", "")
        if not expected or not hmac_equal(sent.encode(), expected.encode()):
            return "missing or wrong form token"
        return None
    if not origin:
        return "state-changing request without an Origin"
    if not request.is_json:
        return "state-changing request that is not JSON"
    return None


def _origin_of(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}" if p.scheme and p.netloc else ""


def deny(ctx: AuthContext, reason: str, *, status: int | None = None) -> Response:
    """Refuse: a browser mid-login goes to its stage page, an anonymous browser to sign-in, the rest
    get 401/403 JSON and an audit record. Every refusal carries `X-Access: denied`."""
    who: Principal = g.get("principal", ANONYMOUS)
    wants_html = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
    if who.kind == "person" and who.stage != FULL and request.method == "GET" and who.stage in STAGE_PAGES:
        resp = redirect(STAGE_PAGES[who.stage])
    elif who.kind == "anonymous" and wants_html:
        resp = redirect("/login")
    else:
        ctx.audit("access_denied", result="denied", obj=f"{request.method} {request.path}"[:255], reason=reason)
        code = status or (401 if who.kind == "anonymous" else 403)
        resp = jsonify({"error": "forbidden" if code == 403 else "sign in first"})
        resp.status_code = code
    resp.headers["X-Access"] = "denied"
    return resp


def start_session(ctx: AuthContext, acc: Account, stage: str, *, mfa: bool = False,
                  prev: Session | None = None) -> Session:
    """A session for the next login stage (a new id each time)."""
    if prev is not None:
        return ctx.sessions.advance(prev, stage, mfa=mfa)
    return ctx.sessions.create(user_id=acc.id, username=acc.username, roles=[r.value for r in acc.roles],
                               unit_id=acc.unit_id, stage=stage, address=client_address(), mfa=mfa)


def to_stage(ctx: AuthContext, s: Session) -> Response:
    """Set the session cookie and go to the page of the session's stage (the app for a full session,
    or first the password page when the password expires within the warning period)."""
    target = STAGE_PAGES.get(s.stage) or access.home_for(frozenset(Role(r) for r in s.roles))
    if s.stage == FULL and password_expiry(ctx, s.user_id).warn:
        target = "/account/password"
    resp = redirect(target)
    resp.set_cookie(ctx.cookie, s.sid, httponly=True, samesite="Lax", secure=ctx.secure, path="/")
    return resp


def password_expiry(ctx: AuthContext, user_id: int):  # type: ignore[no-untyped-def]
    """The account's password expiry state under the configured policy (never expiring without a password)."""
    from auth.passwords import ExpiryState

    acc = ctx.accounts.get(user_id=user_id)
    if acc is None or not acc.password_hash or acc.password_changed_at is None:
        return ExpiryState(expired=False, warn=False, days_left=None)
    return expiry_state(acc.password_changed_at, ctx.clock(), ctx.accounts.policy)


def next_stage(ctx: AuthContext, acc: Account, mfa_done: bool) -> str:
    """Second factor first (so a stolen password alone cannot change the password), then the password."""
    if needs_second_factor(acc.roles, ctx.second_factor_roles) and not mfa_done:
        return "mfa" if acc.totp_enrolled else "enrol"
    changed = acc.password_changed_at or dt.datetime.min.replace(tzinfo=dt.UTC)
    if acc.must_change or expiry_state(changed, ctx.clock(), ctx.accounts.policy).expired:
        return "password"
    return FULL


def auth_blueprint(ctx: AuthContext) -> Blueprint:
    bp = Blueprint("auth", __name__)

    @bp.route("/login", methods=["GET", "POST"])
    def login():  # type: ignore[no-untyped-def]
        lg, errors = lang(), []
        pre = request.cookies.get("cc_pre") or secrets.token_urlsafe(24)
        if request.method == "POST":
            addr = client_address()
            wait = ctx.throttle.address_retry_after(addr)
            if wait:
                ctx.audit("login", result="denied", reason="address rate limit")
                resp = Response(t("too_many", lg, n=wait), status=429, mimetype="text/plain")
                resp.headers["Retry-After"] = str(wait)
                return resp
            username = request.form.get("username", "").strip()
            password = request.form.get("password", "")
            locked = ctx.throttle.locked_for(username, addr) if USERNAME.match(username) else None
            if locked:
                ctx.audit("login", result="denied", actor=f"user:{username}", reason="locked")
                errors.append(t("locked", lg, n=max(1, locked // 60)))
            elif not USERNAME.match(username):
                errors.append(t("bad_login", lg))
            else:
                acc = ctx.accounts.authenticate(username, password)
                if acc is None:
                    began = ctx.throttle.failure(username, addr)
                    ctx.audit("login", result="fail", actor=f"user:{username}", reason="bad credentials")
                    if began:
                        ctx.audit("lockout", result="ok", actor="system", obj=f"user:{username}",
                                  reason=f"5 failures from {addr}" if began == "address" else "failures from "
                                                                                               "many addresses")
                    errors.append(t("bad_login", lg))
                elif not ctx.admin_address_ok(acc.roles):
                    ctx.audit("login", result="denied", actor=f"user:{username}",
                              reason="administrator sign-in from outside ADMIN_NETWORKS")
                    errors.append(t("bad_login", lg))
                else:
                    ctx.throttle.success(username, addr)
                    s = start_session(ctx, acc, next_stage(ctx, acc, mfa_done=False))
                    ctx.audit("login", actor=f"user:{username}", reason=f"password; next {s.stage}")
                    return to_stage(ctx, s)
        html = render(lg, t("login", lg), form=[("username", t("username", lg), "text"),
                                                ("password", t("password", lg), "password")],
                      button=t("submit", lg), action="/login", csrf=pre, errors=errors,
                      extra_link=("/login/sso", ctx.sso_label or t("sso", lg)) if ctx.sso_enabled else None)
        resp = Response(html, status=401 if errors else 200)
        resp.set_cookie("cc_pre", pre, httponly=True, samesite="Strict", secure=ctx.secure, path="/login")
        return resp

    @bp.route("/login/code", methods=["GET", "POST"], endpoint="second_factor")
    def second_factor():  # type: ignore[no-untyped-def]
        s, lg = g.session, lang()
        if s.stage != "mfa":
            return redirect(STAGE_PAGES.get(s.stage, "/"))
        errors = []
        if request.method == "POST":
            if ctx.accounts.check_totp(s.user_id, request.form.get("code", "")):
                acc = ctx.accounts.get(user_id=s.user_id)
                ctx.audit("second_factor", obj=f"user:{s.username}")
                return to_stage(ctx, start_session(ctx, acc, next_stage(ctx, acc, True), mfa=True, prev=s))  # type: ignore[arg-type]
            ctx.audit("second_factor", result="fail", obj=f"user:{s.username}", reason="wrong or reused code")
            errors.append(t("bad_code", lg))
        return render(lg, t("second_factor", lg), form=[("code", t("second_factor", lg), "text")],
                      button=t("verify", lg), action="/login/code", csrf=s.csrf, errors=errors,
                      notes=[t("code_hint", lg)], signed=True)

    @bp.route("/login/enrol", methods=["GET", "POST"], endpoint="enrol")
    def enrol():  # type: ignore[no-untyped-def]
        s, lg = g.session, lang()
        if s.stage != "enrol":
            return redirect(STAGE_PAGES.get(s.stage, "/"))
        key = f"enrol:{s.user_id}"
        r = ctx.sessions.r
        secret = (r.get(key) or b"").decode() or totp.new_secret()
        r.set(key, secret, ex=600)  # the same secret across reloads until enrolled
        errors = []
        if request.method == "POST":
            if ctx.accounts.enrol_totp(s.user_id, secret, request.form.get("code", ""), address=client_address()):
                r.delete(key)
                acc = ctx.accounts.get(user_id=s.user_id)
                return to_stage(ctx, start_session(ctx, acc, next_stage(ctx, acc, True), mfa=True, prev=s))  # type: ignore[arg-type]
            errors.append(t("bad_code", lg))
        uri = totp.provisioning_uri(secret, s.username)
        return render(lg, t("enrol", lg), form=[("code", t("second_factor", lg), "text")], button=t("verify", lg),
                      action="/login/enrol", csrf=s.csrf, errors=errors, notes=[t("enrol_hint", lg)],
                      qr_svg=totp.qr_svg(uri), secret=secret, signed=True)

    @bp.route("/account/password", methods=["GET", "POST"], endpoint="password")
    def password():  # type: ignore[no-untyped-def]
        s, lg = g.session, lang()
        if s.stage not in ("password", FULL):
            return redirect(STAGE_PAGES.get(s.stage, "/"))
        errors, notes, home = [], [], None
        if s.stage == "password":
            notes.append(t("must_change", lg))
        else:
            expiry = password_expiry(ctx, s.user_id)
            if expiry.warn:
                notes.append(t("expiry_warn", lg, n=expiry.days_left))
            home = (access.home_for(frozenset(Role(r) for r in s.roles)), t("home", lg))
        if request.method == "POST":
            new, repeat = request.form.get("new", ""), request.form.get("repeat", "")
            if new != repeat:
                errors.append(t("mismatch", lg))
            else:
                problems = ctx.accounts.change_password(s.user_id, request.form.get("old", ""), new,
                                                        address=client_address())
                errors += [p.en if lg == "en" else p.zh for p in problems]
                if not problems:
                    ctx.sessions.end_user(s.user_id)  # other sessions of the old password end too
                    acc = ctx.accounts.get(user_id=s.user_id)
                    return to_stage(ctx, start_session(ctx, acc, FULL, mfa=s.mfa))  # type: ignore[arg-type]
        return render(lg, t("change_password", lg), form=[("old", t("old_password", lg), "password"),
                                                         ("new", t("new_password", lg), "password"),
                                                         ("repeat", t("repeat", lg), "password")],
                      button=t("save", lg), action="/account/password", csrf=s.csrf, errors=errors, notes=notes,
                      signed=True, extra_link=home)

    @bp.post("/logout")
    def logout():  # type: ignore[no-untyped-def]
        s = g.session
        ctx.sessions.end(s.sid)
        ctx.audit("logout", obj=f"user:{s.username}")
        resp = redirect("/login")
        resp.delete_cookie(ctx.cookie, path="/")
        return resp

    @bp.get("/whoami")
    def whoami():  # type: ignore[no-untyped-def]
        """Lets a live page whose socket was refused tell "signed out" (go to login) from "network down"."""
        who: Principal = g.principal
        if who.kind == "anonymous":
            revoked = ctx.wall_cookie in request.cookies  # a display cookie that no longer pairs
            return jsonify({"signed_in": False, "wall_revoked": revoked}), 401
        return jsonify({"signed_in": who.signed_in, "kind": who.kind, "stage": who.stage})

    @bp.get("/pair/<code>")
    def pair(code: str):  # type: ignore[no-untyped-def]
        """A wall's browser opens the one-time URL: it gets a long-lived display cookie and a clean URL."""
        lg = lang()
        wait = ctx.throttle.address_retry_after(client_address())
        if wait:
            return Response(t("too_many", lg, n=wait), status=429, headers={"Retry-After": str(wait)},
                            mimetype="text/plain")
        paired = ctx.tokens.pair(code, address=client_address()) if ctx.tokens is not None and len(code) < 64 else None
        if paired is None:
            return Response(render(lg, t("pair_failed", lg), notes=[t("pair_failed_hint", lg)]), status=403)
        info, cookie = paired
        resp = redirect(f"/wall/{info.scope.split(':', 1)[1]}?kiosk=1")
        resp.set_cookie(ctx.wall_cookie, cookie, max_age=400 * 86400, httponly=True, samesite="Lax",
                        secure=ctx.secure, path="/")
        return resp

    @bp.get("/wall-revoked", endpoint="wall_revoked")
    def wall_revoked():  # type: ignore[no-untyped-def]
        lg = lang()
        resp = Response(render(lg, t("wall_revoked", lg), notes=[t("wall_revoked_hint", lg)]))
        resp.delete_cookie(ctx.wall_cookie, path="/")
        return resp

    @bp.get("/no-access", endpoint="no_access")
    def no_access():  # type: ignore[no-untyped-def]
        lg = lang()
        return render(lg, t("no_access", lg), notes=[t("no_access_hint", lg)],
                      signed=g.principal.kind == "person", csrf=g.session.csrf if g.session else "",
                      extra_link=("/account/password", t("change_password", lg)) if g.principal.signed_in else None)

    return bp


def page_guard(perm: str, layout: Callable[..., object], denied: Callable[[], object]) -> Callable[..., object]:
    """A Dash page layout that is built only for a principal with `perm`, checked on the server."""

    def guarded(**kwargs: object) -> object:
        who: Principal = g.get("principal", ANONYMOUS)
        if not access.allows(perm, who):
            return denied()
        return layout(**kwargs)

    return guarded


def allowed_origins(hosts: Iterable[str], port: int, public_url: str | None) -> frozenset[str]:
    out = {f"http://{h}:{port}" for h in hosts}
    if public_url:
        out.add(_origin_of(public_url))
    return frozenset(out)


