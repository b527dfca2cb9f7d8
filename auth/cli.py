"""Operator commands: accounts, the first administrators, audit verification and retention.

The operator at the host is trusted like the database owner; every change is still audited,
with the operating-system user as the actor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

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
    us.add_parser("list")
    au = sub.add_parser("audit", help="verify or purge the audit log")
    aus = au.add_subparsers(dest="action", required=True)
    aus.add_parser("verify")
    aus.add_parser("purge")


def run_users(args: argparse.Namespace, accounts: Accounts, end_sessions: callable) -> int:  # type: ignore[valid-type]
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
