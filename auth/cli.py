"""Operator commands: accounts, the first administrators, audit verification and retention.

The operator at the host is trusted like the database owner; every change is still audited,
with the operating-system user as the actor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from auth import audit
from auth.accounts import AccountError, Accounts
from auth.roles import ADMINS, ROLE_TITLES, Role, RoleError

FIRST_ADMINS = (("sysadmin", Role.SYSTEM_ADMIN), ("secadmin", Role.SECURITY_ADMIN), ("auditadmin", Role.AUDIT_ADMIN))


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def ensure_first_admins(accounts: Accounts, password: str = "") -> list[tuple[str, str, Role]]:
    """On an empty account table, the three separated administrators; returns what to print once.

    No default password exists: ADMIN_PASSWORD or a generated one, to be changed at first login
    (with a second factor enrolled before anything else)."""
    if accounts.count():
        return []
    made = []
    for name, role in FIRST_ADMINS:
        _acc, pw = accounts.create("system", name, [role.value], display_name=ROLE_TITLES[role][0],
                                   password=password or None, must_change=True)
        made.append((name, pw, role))
    return made


def first_login_banner(made: list[tuple[str, str, Role]], url: str) -> str:
    lines = ["", "=" * 78, "首次启动：已创建三员管理账号 / first start: the three administrator accounts", ""]
    for name, pw, role in made:
        lines.append(f"  {ROLE_TITLES[role][0]:<6} {role.value:<15} username: {name:<11} password: {pw}")
    lines += ["", f"  Sign in at {url}/login : each administrator enrols an authenticator app (TOTP)",
              "  and sets a new password at first sign-in. These passwords are shown only now.",
              "  Viewer accounts (leadership, duty officers ...):",
              "    python app.py users add NAME --role leadership", "=" * 78, ""]
    return "\n".join(lines)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    u = sub.add_parser("users", help="manage accounts")
    us = u.add_subparsers(dest="action", required=True)
    a = us.add_parser("add")
    a.add_argument("username")
    a.add_argument("--role", action="append", required=True, help=", ".join(r.value for r in Role))
    a.add_argument("--name", default="", help="display name")
    a.add_argument("--unit", default=None, help="unit id (data scope of a unit admin)")
    a.add_argument("--person", default=None, help="person id of the d_person record")
    for verb in ("disable", "enable", "reset"):
        v = us.add_parser(verb)
        v.add_argument("username")
        if verb == "reset":
            v.add_argument("--totp", action="store_true", help="also make the user enrol a new authenticator")
    r = us.add_parser("role")
    r.add_argument("username")
    r.add_argument("--role", action="append", required=True)
    lk = us.add_parser("link", help="link a single sign-on identity to an account")
    lk.add_argument("username")
    lk.add_argument("--subject", required=True, help="the provider's sub claim for this person")
    lk.add_argument("--issuer", default=None, help="default: OIDC_ISSUER")
    ul = us.add_parser("unlink")
    ul.add_argument("username")
    us.add_parser("list")
    tk = sub.add_parser("token", help="display (wall) and source (ingest) tokens")
    tks = tk.add_subparsers(dest="action", required=True)
    d = tks.add_parser("display", help="a one-time pairing URL for a wall")
    target = d.add_mutually_exclusive_group(required=True)
    target.add_argument("--playlist")
    target.add_argument("--screen")
    d.add_argument("--label", default="")
    so = tks.add_parser("source", help="a bearer token for one system's ingest")
    so.add_argument("--system", required=True)
    so.add_argument("--label", default="")
    ro = tks.add_parser("rotate", help="a new source token; the old one stays valid for the overlap")
    ro.add_argument("token_id")
    ro.add_argument("--overlap-hours", type=float, default=24.0)
    rv = tks.add_parser("revoke")
    rv.add_argument("token_id")
    tks.add_parser("list")
    au = sub.add_parser("audit", help="verify or purge the audit log")
    aus = au.add_subparsers(dest="action", required=True)
    aus.add_parser("verify")
    aus.add_parser("purge")


def run_users(args: argparse.Namespace, accounts: Accounts, end_sessions: Callable[[int], int], *,
              issuer: str | None = None) -> int:
    try:
        if args.action == "add":
            acc, pw = accounts.create(actor(), args.username, args.role, display_name=args.name, unit_id=args.unit,
                                      person_id=args.person)
            print(f"created {acc.username} ({', '.join(sorted(acc.roles))}); one-time password: {pw}")
            print("the user sets a new password at first sign-in"
                  + ("; administrators also enrol an authenticator app" if acc.roles & ADMINS else ""))
        elif args.action in ("disable", "enable"):
            accounts.set_disabled(actor(), args.username, args.action == "disable")
            acc = accounts.get(args.username)
            n = end_sessions(acc.id) if acc else 0
            print(f"{args.username} {args.action}d; {n} session(s) ended")
        elif args.action == "reset":
            pw = accounts.reset_password(actor(), args.username, reset_totp=args.totp)
            acc = accounts.get(args.username)
            n = end_sessions(acc.id) if acc else 0
            print(f"{args.username}: one-time password {pw}; {n} session(s) ended")
        elif args.action == "role":
            acc = accounts.set_roles(actor(), args.username, args.role)
            n = end_sessions(acc.id)
            print(f"{acc.username}: roles now {', '.join(sorted(acc.roles))}; {n} session(s) ended")
        elif args.action in ("link", "unlink"):
            from auth.sso_web import link_identity, unlink_identity
            from auth.web import AuthContext

            ctx = AuthContext(engine=accounts.engine, accounts=accounts, sessions=None,  # type: ignore[arg-type]
                              throttle=None, crypto_profile=accounts.crypto.name, origins=frozenset())  # type: ignore[arg-type]
            if args.action == "link":
                iss = args.issuer or issuer
                if not iss:
                    raise AccountError("no issuer: pass --issuer or set OIDC_ISSUER")
                link_identity(ctx, actor(), args.username, iss, args.subject)
                print(f"{args.username} linked to {args.subject!r} of {iss}")
            else:
                removed = unlink_identity(ctx, actor(), args.username)
                acc = accounts.get(args.username)
                n = end_sessions(acc.id) if removed and acc else 0
                print(f"{args.username}: {'link removed' if removed else 'had no link'}; {n} session(s) ended")
        elif args.action == "list":
            for acc in accounts.list():
                flags = [f for f, on in (("disabled", acc.disabled), ("totp", acc.totp_enrolled),
                                         ("must-change", acc.must_change)) if on]
                roles = ",".join(sorted(acc.roles))
                print(f"{acc.username:<20} {roles:<30} {acc.unit_id or '-':<10} {' '.join(flags)}")
    except (AccountError, RoleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run_token(args: argparse.Namespace, tokens: Any, base_url: str, walls: set[str]) -> int:
    """Token commands; secrets are printed once and stored only as hashes."""
    from auth.tokens import TokenError

    try:
        if args.action == "display":
            scope = f"playlist:{args.playlist}" if args.playlist else f"screen:{args.screen}"
            if scope not in walls:
                raise TokenError(f"no wall {scope!r}; known: {', '.join(sorted(walls))}")
            info, code = tokens.issue_display(actor(), scope, args.label)
            print(f"display token {info.id} for {scope}; open this once on the wall's browser within 24 h:")
            print(f"  {base_url}/pair/{code}")
        elif args.action == "source":
            info, bearer = tokens.issue_source(actor(), args.system, args.label)
            print(f"source token {info.id} for {info.scope} (shown only now):\n  {bearer}")
        elif args.action == "rotate":
            info, bearer = tokens.rotate_source(actor(), args.token_id,
                                                overlap=dt.timedelta(hours=args.overlap_hours))
            print(f"new source token {info.id} for {info.scope}; {args.token_id} stays valid for "
                  f"{args.overlap_hours:g} h (shown only now):\n  {bearer}")
        elif args.action == "revoke":
            info = tokens.revoke(actor(), args.token_id)
            print(f"revoked {info.id} ({info.kind}, {info.scope}); a paired wall blanks within seconds")
        elif args.action == "list":
            for info in tokens.list():
                state = "revoked" if info.revoked_at else ("expires " + info.expires_at.isoformat(timespec="minutes")
                                                          if info.expires_at else "active")
                paired = " paired" if info.kind == "display" and info.paired else ""
                print(f"{info.id}  {info.kind:<8} {info.scope:<28} {state}{paired}  {info.label}")
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run_audit(args: argparse.Namespace, engine: Engine, *, keep_days: int) -> int:
    if args.action == "verify":
        with engine.connect() as conn:
            problems = audit.verify(conn)
        for p in problems:
            print(f"TAMPERED {p}")
        if not problems:
            print("audit log intact")
        return 1 if problems else 0
    with audit.writer(engine) as conn:
        n = audit.purge(conn, now=dt.datetime.now(dt.UTC), keep_days=keep_days)
    print(f"purged {n} records older than {max(keep_days, audit.RETENTION_FLOOR_DAYS)} days")
    return 0
