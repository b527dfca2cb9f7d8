"""Token administration (tokens:manage, the security administrator's): display and source tokens as a web page.

Issuing and revoking go through auth.tokens.Tokens, which audits every change in the same transaction;
refusals are audited here. A new token's pairing link or bearer is in the response body of the POST that
issued it and nowhere else: never in a URL, a redirect or the audit log, and pages are sent `no-store`
(auth/web.py), so it is shown exactly once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from flask import Blueprint, Response, g, request

from auth.admin_pages import render_tokens, t
from auth.tokens import PAIR_VALID, TokenError, TokenInfo
from auth.web import AuthContext, client_address, lang

TOKEN_ID = re.compile(r"[0-9a-f]{16}")  # as Tokens issues them; anything else is not looked up


def register_token_views(bp: Blueprint, ctx: AuthContext, *, walls: AbstractSet[str], base_url: str,
                         chrome: Callable[[AuthContext, str, str], dict[str, Any]],
                         local: Callable[[dt.datetime], str]) -> None:
    """Add admin.tokens, admin.token_issue and admin.token_revoke (rules in auth.access.ROUTES) to `bp`.

    `walls` are the scopes a display token may be bound to and `base_url` the address walls reach the
    server on; both come from app.py, which this package cannot import."""
    from datasources.registry import SYSTEMS  # the ingest systems a source token may write to

    systems = sorted(SYSTEMS)

    def page(*, errors: list[str] | None = None, notes: list[str] | None = None, secret: dict[str, str] | None = None,
             open_form: str = "", status: int = 200) -> Response:
        lg = lang()
        now = ctx.clock()
        rows = [_row(info, now, lg, local) for info in reversed(ctx.tokens.list())]  # newest first
        titles = [(name, SYSTEMS[name].title_en if lg == "en" else SYSTEMS[name].title_zh) for name in systems]
        html = render_tokens(lg, rows=rows, walls=sorted(walls), systems=titles, errors=errors or [],
                             notes=notes or [], secret=secret, open_form=open_form,
                             **chrome(ctx, lg, "/admin/tokens"))
        return Response(html, status=status, mimetype="text/html")

    @bp.get("/admin/tokens", endpoint="tokens")
    def tokens() -> Response:
        return page()

    @bp.post("/admin/tokens", endpoint="token_issue")
    def token_issue() -> Response:
        lg, f = lang(), request.form
        kind, label = f.get("kind", ""), f.get("label", "").strip()
        target = f.get("scope", "") if kind == "display" else f.get("system", "")
        problem = None
        if kind not in ("display", "source"):
            problem = t("err_kind", lg)
        elif kind == "display" and target not in walls:
            problem = t("err_wall", lg)
        elif kind == "source" and target not in SYSTEMS:
            problem = t("err_system", lg)
        elif len(label) > 128:
            problem = t("err_label", lg)
        if problem is None:
            try:
                return page(secret=_issue(ctx, kind, target, label, base_url or request.host_url, lg))
            except TokenError as exc:
                problem = str(exc)
        ctx.audit("token_issue", result="fail", reason=problem, detail={"kind": kind[:16], "target": target[:80]})
        return page(errors=[problem], open_form=kind if kind in ("display", "source") else "", status=400)

    @bp.post("/admin/tokens/<token_id>/revoke", endpoint="token_revoke")
    def token_revoke(token_id: str) -> Response:
        lg = lang()
        problem = None if TOKEN_ID.fullmatch(token_id) else t("err_token", lg, id=token_id[:40])
        if problem is None:
            try:
                ctx.tokens.revoke(g.principal.actor, token_id, address=client_address())
            except TokenError:
                problem = t("err_token", lg, id=token_id)
        if problem is not None:
            ctx.audit("token_revoke", result="fail", obj=f"token:{token_id}"[:255], reason=problem)
            return page(errors=[problem], status=400)
        return page(notes=[t("done_revoke", lg, id=token_id)])


def _issue(ctx: AuthContext, kind: str, target: str, label: str, base_url: str, lg: str) -> dict[str, str]:
    """Issue the token and word what the operator sees once: the pairing link (display) or the bearer."""
    actor, addr = g.principal.actor, client_address()
    if kind == "display":
        info, code = ctx.tokens.issue_display(actor, target, label, address=addr)
        return {"intro": t("pair_url_for", lg, id=info.id, scope=info.scope),
                "value": f"{base_url.rstrip('/')}/pair/{code}", "note": t("pair_note", lg)}
    info, bearer = ctx.tokens.issue_source(actor, target, label, address=addr)
    return {"intro": t("bearer_for", lg, id=info.id, scope=info.scope), "value": bearer,
            "note": t("bearer_note", lg)}


def _row(info: TokenInfo, now: dt.datetime, lg: str, local: Callable[[dt.datetime], str]) -> dict[str, Any]:
    """One table row; `revocable` while the token can still authenticate or pair."""
    revocable, tone = True, "ad-ok"
    if info.revoked_at is not None:
        state, tone, revocable = t("st_revoked", lg, at=local(info.revoked_at)), "ad-bad", False
    elif info.expires_at is not None and info.expires_at <= now:
        state, tone, revocable = t("st_expired", lg), "ad-bad", False
    elif info.expires_at is not None:  # a rotated source token, in its overlap
        state, tone = t("st_expires", lg, at=local(info.expires_at)), "ad-warn"
    elif info.kind == "display" and info.paired:
        state = t("st_paired", lg)
    elif info.kind == "display":
        until = info.created_at + PAIR_VALID
        state, tone = (t("st_pending", lg, at=local(until)), "ad-warn") if until > now else (
            t("st_code_expired", lg), "ad-warn")
    else:
        state = t("st_active", lg)
    return {"id": info.id, "kind": t(f"kind_{info.kind}", lg), "scope": info.scope, "label": info.label,
            "created_by": info.created_by, "created_at": local(info.created_at), "state": state, "tone": tone,
            "revocable": revocable}
