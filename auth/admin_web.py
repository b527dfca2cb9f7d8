"""Administration routes: the three administrators' separated powers as web pages (三员分立).

- System administrator (users:manage): creates accounts, but only with the non-administrator roles
  (leadership, duty officer, security, manager, unit admin); disables, enables and resets them.
  Administrator accounts are not touched here: resetting another administrator's password would
  let one administrator sign in as another, so those go through the host's command line.
- Security administrator (roles:manage): changes roles (auth.roles.check_assignment keeps the three
  administrators apart) and lifts sign-in locks.
- Security administrator (tokens:manage): issues and revokes display and source tokens (auth/admin_tokens.py).
- Audit administrator (audit:read, audit:export): reads, verifies and exports the audit log; at most
  EXPORTS_PER_MINUTE exports a minute per account, so a stolen session cannot pull the log in a loop.

The guard (auth/web.py) has already checked each endpoint's rule in auth.access.ROUTES and the form
token before a view runs. Nobody may disable, reset or change the roles of their own account.
Account changes audit themselves (auth/accounts.py); refusals, unlocks and audit reads are audited here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, request
from sqlalchemy import ColumnElement, Engine, func, select

from auth import access, audit
from auth.accounts import KEEP, AccountError
from auth.admin_pages import render_audit, render_users, t
from auth.admin_tokens import register_token_views
from auth.lockout import USERNAME, sliding_window
from auth.roles import ADMINS, ROLE_TITLES, Perm, Role, RoleError
from auth.web import AuthContext, client_address, lang
from warehouse.identity import auth_audit

ZONE = ZoneInfo("Asia/Shanghai")
PAGE_SIZE = 50
EXPORT_CHUNK = 1000
CREATABLE = (Role.LEADERSHIP, Role.DUTY_OFFICER, Role.SECURITY, Role.MANAGER, Role.UNIT_ADMIN)
RESULTS = ("ok", "fail", "denied")
CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas
ACTION_EVENTS = {"disable": "user_disable", "enable": "user_enable", "reset": "password_reset"}  # as accounts.py
COLUMNS = ("id", "ts", "actor", "address", "event", "object", "result", "reason", "detail")
EXPORTS_PER_MINUTE = 10


def admin_blueprint(ctx: AuthContext, *, walls: AbstractSet[str] = frozenset(), base_url: str = "") -> Blueprint:
    """The /admin pages; app.create_web registers it next to the login routes. `walls` (the scopes a display
    token may be bound to; a live view that follows screen reloads) and `base_url` (where walls reach the
    server) come from app.py, which cannot be imported from here."""
    bp = Blueprint("admin", __name__)
    register_token_views(bp, ctx, walls=walls, base_url=base_url, chrome=chrome, local=_local)

    @bp.get("/admin/users", endpoint="users")
    def users() -> Response:
        return users_page(ctx)

    @bp.post("/admin/users", endpoint="user_create")
    def user_create() -> Response:
        lg, f = lang(), request.form
        username = f.get("username", "").strip()
        roles = f.getlist("role")
        display, unit = f.get("display_name", "").strip(), f.get("unit_id", "").strip() or None
        problem = None
        if set(roles) - {r.value for r in CREATABLE}:
            problem = t("err_admin_role", lg)
        elif len(display) > 64 or len(unit or "") > 32:
            problem = t("err_field", lg, field=t("display_name" if len(display) > 64 else "unit", lg))
        if problem is None:
            try:
                acc, password = ctx.accounts.create(g.principal.actor, username, roles, display_name=display,
                                                    unit_id=unit, address=client_address())
            except (AccountError, RoleError) as exc:
                problem = str(exc)
        if problem is not None:
            ctx.audit("user_create", result="fail", obj=f"user:{username}"[:255], reason=problem,
                      detail={"roles": sorted(roles)})
            return users_page(ctx, errors=[problem], status=400, open_create=True)
        return users_page(ctx, notes=[t("created", lg, name=acc.username)], secret=(acc.username, password))

    @bp.post("/admin/users/<username>/action", endpoint="user_action")
    def user_action(username: str) -> Response:
        lg, action = lang(), request.form.get("action", "")
        acc = ctx.accounts.get(username) if USERNAME.match(username) else None
        if action not in ("disable", "enable", "reset"):
            problem = t("err_action", lg)
        elif acc is None:
            problem = f"no account named {username!r}"
        elif acc.username == g.principal.name:
            problem = t("err_self", lg)
        elif acc.roles & ADMINS:
            problem = t("err_admin_target", lg)
        else:
            problem = None
        event = ACTION_EVENTS.get(action, "user_action")
        if problem is not None:
            return refuse(ctx, event, username, problem)
        assert acc is not None
        actor, addr, password = g.principal.actor, client_address(), ""
        try:
            if action == "reset":
                password = ctx.accounts.reset_password(actor, acc.username, address=addr,
                                                       reset_totp=request.form.get("reset_totp") == "1")
            else:
                ctx.accounts.set_disabled(actor, acc.username, action == "disable", address=addr)
        except (AccountError, RoleError) as exc:
            return refuse(ctx, event, username, str(exc))
        if action != "enable":
            ctx.sessions.end_user(acc.id)  # the user's pages and sockets end now, not at the idle timeout
        note = t(f"done_{action}", lg, name=acc.username)
        if action == "reset":
            return users_page(ctx, notes=[note], secret=(acc.username, password))
        return users_page(ctx, notes=[note])

    @bp.post("/admin/users/<username>/roles", endpoint="user_roles")
    def user_roles(username: str) -> Response:
        lg, roles = lang(), request.form.getlist("role")
        acc = ctx.accounts.get(username) if USERNAME.match(username) else None
        if acc is None:
            return refuse(ctx, "role_change", username, f"no account named {username!r}")
        if acc.username == g.principal.name:
            return refuse(ctx, "role_change", username, t("err_self", lg))
        unit = request.form.get("unit_id", "").strip() if "unit_id" in request.form else KEEP
        try:
            ctx.accounts.set_roles(g.principal.actor, acc.username, roles, unit_id=unit, address=client_address())
        except (AccountError, RoleError) as exc:
            return refuse(ctx, "role_change", username, str(exc), detail={"after": sorted(roles)})
        ctx.sessions.end_user(acc.id)  # a session carries its roles: the next one has the new ones
        return users_page(ctx, notes=[t("done_roles", lg, name=acc.username)])

    @bp.post("/admin/users/<username>/unlock", endpoint="user_unlock")
    def user_unlock(username: str) -> Response:
        lg = lang()
        if not USERNAME.match(username):
            return refuse(ctx, "unlock", username, t("err_username", lg))
        n = ctx.throttle.unlock(username)
        ctx.audit("unlock", obj=f"user:{username}", detail={"cleared": n})
        return users_page(ctx, notes=[t("done_unlock", lg, name=username)])

    @bp.get("/admin/audit", endpoint="audit")
    def audit_view() -> Response:
        return audit_page(ctx)

    @bp.get("/admin/audit.csv", endpoint="audit_export")
    def audit_export() -> Response:
        lg = lang()
        f, errors = AuditFilter.from_args(request.args)
        if errors:
            return Response("\n".join(errors), status=400, mimetype="text/plain")
        wait = export_retry_after(ctx, g.principal.name)
        if wait:
            ctx.audit("audit_export", result="denied", reason=f"over {EXPORTS_PER_MINUTE} exports a minute",
                      detail={"filter": f.as_detail()})
            return Response(t("too_many_exports", lg, n=wait), status=429, mimetype="text/plain",
                            headers={"Retry-After": str(wait)})
        ctx.audit("audit_export", detail={"filter": f.as_detail()})
        stamp = ctx.clock().astimezone(ZONE).strftime("%Y%m%d-%H%M")
        resp = Response(csv_lines(ctx.engine, f.where(), lg), mimetype="text/csv")
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return resp

    return bp


def export_retry_after(ctx: AuthContext, user: str) -> int | None:
    """Count one export in the account's sliding minute (Redis, so every web process shares it); the seconds
    until the next is allowed when over the limit."""
    return sliding_window(ctx.throttle.r, f"rl:export:{user}", EXPORTS_PER_MINUTE, 60, ctx.throttle.clock())


def refuse(ctx: AuthContext, event: str, username: str, message: str, *, detail: dict | None = None) -> Response:
    """A refused change: audited as a failure, the page shown again with the message (HTTP 400)."""
    ctx.audit(event, result="fail", obj=f"user:{username}"[:255], reason=message, detail=detail)
    return users_page(ctx, errors=[message], status=400)


def _titles(roles: Any, lg: str) -> list[str]:
    return [ROLE_TITLES[r][1 if lg == "en" else 0] for r in sorted(roles)]


def locked_names(ctx: AuthContext) -> set[str]:
    """Usernames with any sign-in lock: one scan of the lock keys for the whole page, not one per row."""
    out = set()
    for key in ctx.throttle.r.scan_iter(match="lk:lock:*", count=500):
        name = (key.decode() if isinstance(key, bytes) else key).split(":")[2]
        out.add(name)  # usernames cannot contain ':' (lockout.USERNAME); addresses may
    return out


def chrome(ctx: AuthContext, lg: str, base: str) -> dict[str, Any]:
    """What every admin page's header needs: the token, the viewer, links their permissions allow."""
    who = g.principal
    q = "?lang=en" if lg == "en" else ""
    nav = []
    if access.allows(access.ROUTES["admin.users"], who):
        nav.append((f"/admin/users{q}", t("users", lg), base == "/admin/users"))
    if access.allows(access.ROUTES["admin.tokens"], who):
        nav.append((f"/admin/tokens{q}", t("tokens", lg), base == "/admin/tokens"))
    if access.allows(Perm.AUDIT_READ, who):
        nav.append((f"/admin/audit{q}", t("audit", lg), base == "/admin/audit"))
    args = {k: v for k, v in request.args.items() if k != "lang"} if request.method == "GET" else {}
    args.update({} if lg == "en" else {"lang": "en"})
    return {"csrf": g.session.csrf if g.session else "", "who": f"{who.name} · " + "、".join(_titles(who.roles, lg)),
            "nav": nav, "q": q, "other_lang": base + ("?" + urlencode(args) if args else "")}


def users_page(ctx: AuthContext, *, errors: list[str] | None = None, notes: list[str] | None = None,
               secret: tuple[str, str] | None = None, status: int = 200, open_create: bool = False) -> Response:
    """The accounts table with the controls the viewer's permissions allow (the guard checks again on POST)."""
    lg, who = lang(), g.principal
    locked = locked_names(ctx)
    rows = [{"username": a.username, "quoted": quote(a.username, safe=""), "display_name": a.display_name,
             "roles": {r.value for r in a.roles}, "role_titles": _titles(a.roles, lg), "unit_id": a.unit_id,
             "disabled": a.disabled, "totp": a.totp_enrolled, "must_change": a.must_change,
             "locked": a.username in locked, "admin": bool(a.roles & ADMINS), "self": a.username == who.name}
            for a in ctx.accounts.list()]
    html = render_users(lg, rows=rows, errors=errors or [], notes=notes or [], secret=secret,
                        can_users=access.allows(Perm.USERS_MANAGE, who),
                        can_roles=access.allows(Perm.ROLES_MANAGE, who), open_create=open_create,
                        creatable=[(r.value, _titles([r], lg)[0]) for r in CREATABLE],
                        all_roles=[(r.value, _titles([r], lg)[0]) for r in Role], **chrome(ctx, lg, "/admin/users"))
    return Response(html, status=status, mimetype="text/html")


@dataclass(frozen=True)
class AuditFilter:
    """The audit search, read from the query string; dates are calendar days in Asia/Shanghai."""

    start: str = ""
    end: str = ""
    actor: str = ""
    event: str = ""
    result: str = ""

    @classmethod
    def from_args(cls, args: Any) -> tuple[AuditFilter, list[str]]:
        """The filter and the problems with it: a bad date is reported, not silently widened to everything."""
        errors, dates = [], {}
        for key in ("from", "to"):
            v = args.get(key, "").strip()[:10]
            try:
                dates[key] = dt.date.fromisoformat(v).isoformat() if v else ""
            except ValueError:
                errors.append(t("bad_date", lang(), v=v))
                dates[key] = ""
        result = args.get("result", "").strip()
        return cls(start=dates["from"], end=dates["to"], actor=args.get("actor", "").strip()[:128],
                   event=args.get("event", "").strip()[:64], result=result if result in RESULTS else ""), errors

    def where(self) -> list[ColumnElement[bool]]:
        """SQL conditions shared by the page and the export, so both show the same records."""
        c, out = auth_audit.c, []
        if self.start:
            out.append(c.ts >= dt.datetime.combine(dt.date.fromisoformat(self.start), dt.time(), ZONE))
        if self.end:
            day_after = dt.date.fromisoformat(self.end) + dt.timedelta(days=1)
            out.append(c.ts < dt.datetime.combine(day_after, dt.time(), ZONE))
        if self.actor:
            out.append(c.actor.icontains(self.actor, autoescape=True))
        if self.event:
            out.append(c.event == self.event)
        if self.result:
            out.append(c.result == self.result)
        return out

    def as_detail(self) -> dict[str, str]:
        """The filter as set (empty fields left out): the audit record of a view and the paging links."""
        return {k: v for k, v in (("from", self.start), ("to", self.end), ("actor", self.actor),
                                  ("event", self.event), ("result", self.result)) if v}


def _local(ts: dt.datetime) -> str:
    return ts.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S")


def audit_page(ctx: AuthContext) -> Response:
    """A page of the log, newest first; the full chain check only on ?verify=1 (it reads every record)."""
    lg = lang()
    f, errors = AuditFilter.from_args(request.args)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    chain = None
    if request.args.get("verify") == "1":
        with ctx.engine.connect() as conn:
            problems = [str(p) for p in audit.verify(conn)]
        line = t("tampered", lg, n=len(problems)) if problems else t("intact", lg)
        chain = {"line": line, "problems": problems[:20], "count": len(problems)}
    ctx.audit("audit_view", detail={"filter": f.as_detail(), "page": page,
                                    **({"verify_problems": chain["count"]} if chain else {})})
    where = f.where()
    with ctx.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(auth_audit).where(*where)).scalar_one())
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        rows = conn.execute(select(*[auth_audit.c[n] for n in COLUMNS]).where(*where).order_by(auth_audit.c.id.desc())
                            .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        events = conn.execute(select(auth_audit.c.event).distinct().order_by(auth_audit.c.event)
                              .limit(500)).scalars().all()
    shown = [(r.id, _local(r.ts), r.actor, r.address, r.event, r.object, r.result, r.reason, r.detail) for r in rows]
    base = {**f.as_detail(), **({"lang": "en"} if lg == "en" else {})}

    def href(path: str, **extra: Any) -> str:
        args = {**base, **extra}
        return path + ("?" + urlencode(args) if args else "")

    html = render_audit(lg, f=f, rows=shown, total=total, page=page, pages=pages, events=events, chain=chain,
                        errors=errors, notes=[], verify_href=href("/admin/audit", verify=1),
                        export_href=href("/admin/audit.csv") if access.allows(Perm.AUDIT_EXPORT, g.principal) else "",
                        prev_href=href("/admin/audit", page=page - 1) if page > 1 else "",
                        next_href=href("/admin/audit", page=page + 1) if page < pages else "",
                        **chrome(ctx, lg, "/admin/audit"))
    return Response(html, status=400 if errors else 200, mimetype="text/html")


def csv_cell(value: object) -> str:
    """A value as a spreadsheet shows it as text: a leading apostrophe defuses formula characters."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(CSV_RISKY) else s


def csv_lines(engine: Engine, where: list[ColumnElement[bool]], lg: str) -> Iterator[str]:
    """The BOM (Excel then reads UTF-8 Chinese), a header, then every match newest first, in chunks by id
    so a large export neither holds one long read open nor builds the whole file in memory."""
    buf = io.StringIO()
    out = csv.writer(buf)
    keys = ("col_id", "col_time", "col_actor", "col_address", "event", "col_object", "result", "col_reason",
            "col_detail")
    out.writerow([t(k, lg) for k in keys])
    yield "\ufeff" + buf.getvalue()
    last: int | None = None
    while True:
        buf.seek(0)
        buf.truncate()
        q = select(*[auth_audit.c[n] for n in COLUMNS]).where(*where)
        if last is not None:
            q = q.where(auth_audit.c.id < last)
        with engine.connect() as conn:
            rows = conn.execute(q.order_by(auth_audit.c.id.desc()).limit(EXPORT_CHUNK)).all()
        for r in rows:
            out.writerow([csv_cell(v) for v in (r.id, _local(r.ts), r.actor, r.address, r.event, r.object, r.result,
                                                 r.reason, r.detail)])
        if buf.tell():
            yield buf.getvalue()
        if len(rows) < EXPORT_CHUNK:
            return
        last = rows[-1].id
