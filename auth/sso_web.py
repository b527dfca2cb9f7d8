"""Single sign-on at the web edge: the redirect to the provider, the callback, and operator-managed links.

The OIDC protocol lives in `auth.oidc`; this module keeps each attempt's secrets server-side (Redis, one use,
10 minutes), maps a verified identity to exactly one local account through `auth_sso_link` (never by e-mail or
name, which an IdP may reassign), and then joins the ordinary login stages of `auth.web`, so administrators still
need a second factor unless the provider asserted one. Identities are linked only by an operator (audited).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import redis
from flask import Blueprint, Response, g, redirect, request
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from auth import audit
from auth.accounts import AccountError
from auth.audit import AuditEvent
from auth.oidc import PENDING_MAX_AGE_S, OidcClient, OidcError, PendingLogin
from auth.pages import render, t
from auth.sessions import FULL
from auth.web import AuthContext, client_address, lang, next_stage, start_session, to_stage
from warehouse.identity import auth_sso_link, auth_user

COOKIE = "cc_sso"
COOKIE_PATH = "/login/sso"
NOT_LINKED = "sso identity not linked"
DISABLED = "account disabled"
UNKNOWN_ATTEMPT = "sso attempt unknown or already used"

TEXT: dict[str, tuple[str, str]] = {
    "failed": ("统一身份认证失败", "Single sign-on failed"),
    "not_linked": ("该统一身份账号尚未关联本系统用户，请联系系统管理员",
                   "This identity is not linked to an account here: ask the system administrator"),
    "disabled": ("该账号已停用，请联系系统管理员", "This account is disabled: ask the system administrator"),
    "attempt": ("登录请求已失效或已使用，请重新登录", "The sign-in attempt expired or was already used: start again"),
    "refused": ("统一身份认证结果未通过校验，请重新登录；如仍失败请联系系统管理员",
                "The sign-in could not be verified: start again, and ask the system administrator if it persists"),
    "admin_network": ("管理员账号只能从指定的管理终端网络登录",
                      "Administrator accounts sign in only from the management networks"),
    "unavailable": ("统一身份认证服务暂不可用，请稍后再试或使用用户名和密码登录",
                    "The single sign-on service is unavailable: try again later or sign in with a password"),
}


def _text(key: str, lg: str) -> str:
    zh, en = TEXT[key]
    return en if lg == "en" else zh


def _digest(value: str) -> str:
    """Redis keys hold a hash, so reading Redis yields neither usable cookies nor replayable nonces."""
    return hashlib.sha256(value.encode()).hexdigest()


def redis_nonce_seen(r: redis.Redis) -> Callable[[str, int], bool]:
    """An ID-token replay cache shared by every web process (the client's in-memory default is per process)."""

    def seen(nonce: str, ttl_seconds: int) -> bool:
        return not r.set(f"sso:nonce:{_digest(nonce)}", b"1", nx=True, ex=max(1, int(ttl_seconds)))

    return seen


def _take_pending(r: redis.Redis, token: str | None) -> dict[str, Any] | None:
    """Read and delete in one transaction: a callback URL works once, even when two arrive together."""
    if not token or len(token) > 128:
        return None
    key = f"sso:pending:{_digest(token)}"
    pipe = r.pipeline(transaction=True)
    pipe.get(key)
    pipe.delete(key)
    raw, _ = pipe.execute()
    return json.loads(raw) if raw else None


# --- operator actions (CLI) -------------------------------------------------------------------------------------
def link_identity(ctx: AuthContext, actor: str, username: str, issuer: str, subject: str, *,
                  address: str = "") -> None:
    """Link an IdP identity to one account; the account (hence one person) is what the identity may act as."""
    if not issuer or not subject or len(issuer) > 255 or len(subject) > 255:
        raise AccountError("issuer and subject are required (at most 255 characters each)")
    try:
        with audit.writer(ctx.engine) as conn:
            uid = conn.execute(select(auth_user.c.id).where(auth_user.c.username == username)).scalar()
            if uid is None:
                raise AccountError(f"no account named {username!r}")
            owner = conn.execute(select(auth_user.c.username).join(auth_sso_link, auth_sso_link.c.user_id
                                                                   == auth_user.c.id)
                                 .where(auth_sso_link.c.issuer == issuer, auth_sso_link.c.subject == subject)).scalar()
            if owner is not None:
                raise AccountError(f"sso identity {subject!r} of {issuer} is already linked to account {owner!r}")
            mine = conn.execute(select(auth_sso_link.c.subject).where(auth_sso_link.c.user_id == uid)).scalar()
            if mine is not None:
                raise AccountError(f"account {username!r} already has a single sign-on link: unlink it first")
            now = ctx.clock()
            conn.execute(insert(auth_sso_link).values(issuer=issuer, subject=subject, user_id=uid, linked_at=now))
            audit.append(conn, AuditEvent(actor=actor, event="sso_link", object=f"user:{username}", address=address,
                                          detail={"issuer": issuer, "subject": subject}),
                         now=now, profile=ctx.crypto_profile)
    except IntegrityError:  # a concurrent link won the race between our checks and the insert
        raise AccountError(f"account {username!r} or this identity was linked meanwhile: try again") from None


def unlink_identity(ctx: AuthContext, actor: str, username: str, *, address: str = "") -> bool:
    """Remove the account's link (False when it had none); its current sessions are the caller's to end."""
    with audit.writer(ctx.engine) as conn:
        uid = conn.execute(select(auth_user.c.id).where(auth_user.c.username == username)).scalar()
        if uid is None:
            raise AccountError(f"no account named {username!r}")
        link = conn.execute(select(auth_sso_link.c.issuer, auth_sso_link.c.subject)
                            .where(auth_sso_link.c.user_id == uid)).first()
        if link is None:
            return False
        conn.execute(delete(auth_sso_link).where(auth_sso_link.c.user_id == uid))
        audit.append(conn, AuditEvent(actor=actor, event="sso_unlink", object=f"user:{username}", address=address,
                                      detail={"issuer": link.issuer, "subject": link.subject}),
                     now=ctx.clock(), profile=ctx.crypto_profile)
        return True


def linked_user(ctx: AuthContext, issuer: str, subject: str) -> int | None:
    with ctx.engine.connect() as conn:
        return conn.execute(select(auth_sso_link.c.user_id).where(auth_sso_link.c.issuer == issuer,
                                                                  auth_sso_link.c.subject == subject)).scalar()


# --- routes -----------------------------------------------------------------------------------------------------
def sso_blueprint(ctx: AuthContext, client: OidcClient) -> Blueprint:
    bp = Blueprint("sso", __name__)
    r = ctx.sessions.r

    def refuse(lg: str, reason: str, message: str, *, status: int = 403, actor: str | None = None,
               detail: dict | None = None, result: str = "fail") -> Response:
        """Audit the failure and show a short page; tokens and claims never reach the browser."""
        ctx.audit("login", result=result, reason=reason, actor=actor, detail=detail)
        login_link = "/login?lang=en" if lg == "en" else "/login"
        html = render(lg, _text("failed", lg), errors=[_text(message, lg)], extra_link=(login_link, t("login", lg)))
        resp = Response(html, status=status)
        resp.delete_cookie(COOKIE, path=COOKIE_PATH, secure=ctx.secure, httponly=True, samesite="Lax")
        return resp

    @bp.get("/login/sso", endpoint="begin")
    def begin() -> Response:
        lg = lang()
        wait = ctx.throttle.address_retry_after(client_address())  # each attempt costs a Redis entry
        if wait:
            resp = Response(t("too_many", lg, n=wait), status=429, mimetype="text/plain")
            resp.headers["Retry-After"] = str(wait)
            return resp
        try:
            url, pending = client.begin()
        except OidcError as exc:
            return refuse(lg, exc.reason, "unavailable", status=502, detail={"error": str(exc)})
        token = secrets.token_urlsafe(32)
        r.set(f"sso:pending:{_digest(token)}", json.dumps({"pending": asdict(pending), "lang": lg}),
              ex=PENDING_MAX_AGE_S)
        resp = redirect(url, 302)
        # Lax, not Strict: the provider brings the browser back with a cross-site top-level GET
        resp.set_cookie(COOKIE, token, max_age=PENDING_MAX_AGE_S, path=COOKIE_PATH, httponly=True, samesite="Lax",
                        secure=ctx.secure)
        return resp

    @bp.get("/login/sso/callback", endpoint="callback")
    def callback() -> Response:
        record = _take_pending(r, request.cookies.get(COOKIE))
        if record is None:
            return refuse(lang(), UNKNOWN_ATTEMPT, "attempt")
        lg = record.get("lang", "zh")
        try:
            identity = client.finish(PendingLogin(**record["pending"]), request.args.to_dict())
        except OidcError as exc:  # the message is safe to log (no tokens), the page shows none of it
            return refuse(lg, exc.reason, "attempt" if exc.reason == "expired" else "refused",
                          detail={"error": str(exc)})
        who = {"issuer": identity.issuer, "subject": identity.subject}
        uid = linked_user(ctx, identity.issuer, identity.subject)
        if uid is None:
            return refuse(lg, NOT_LINKED, "not_linked", detail=who)
        acc = ctx.accounts.get(user_id=uid)
        if acc is None or acc.disabled:
            return refuse(lg, DISABLED, "disabled", actor=f"user:{acc.username}" if acc else None, detail=who)
        if not ctx.admin_address_ok(acc.roles):  # the same limit as the password login: no way around it
            return refuse(lg, "administrator sign-in from outside ADMIN_NETWORKS", "admin_network", result="denied",
                          actor=f"user:{acc.username}", detail=who)
        stage = next_stage(ctx, acc, mfa_done=identity.mfa)
        if stage == "password" and acc.password_hash is None:
            stage = FULL  # nothing local to change or to expire: the provider owns this person's credentials
        if g.get("session") is not None:
            ctx.sessions.end(g.session.sid)  # one browser, one session: the previous sign-in ends here
        s = start_session(ctx, acc, stage, mfa=identity.mfa)
        reason = "sso; mfa asserted" if identity.mfa else "sso"
        ctx.audit("login", actor=f"user:{acc.username}", reason=f"{reason}; next {s.stage}", detail=who)
        resp = to_stage(ctx, s)
        resp.delete_cookie(COOKIE, path=COOKIE_PATH, secure=ctx.secure, httponly=True, samesite="Lax")
        return resp

    return bp
