"""Roles and the permissions they carry, as data; the separation of the three administrators.

MLPS 2.0 level 3 (三员分立) asks for a system administrator, a security administrator and an audit
administrator whose powers do not overlap and whom one person cannot combine. Every check in the
product asks for a permission, never for a role name, so a role's reach is read in one table.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    LEADERSHIP = "leadership"
    DUTY_OFFICER = "duty_officer"
    SECURITY = "security"
    MANAGER = "manager"
    UNIT_ADMIN = "unit_admin"
    SYSTEM_ADMIN = "system_admin"
    SECURITY_ADMIN = "security_admin"
    AUDIT_ADMIN = "audit_admin"


ADMINS = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})

ROLE_TITLES: dict[Role, tuple[str, str]] = {
    Role.LEADERSHIP: ("领导", "Leadership"),
    Role.DUTY_OFFICER: ("值班员", "Duty officer"),
    Role.SECURITY: ("安保", "Security"),
    Role.MANAGER: ("管理人员", "Manager"),
    Role.UNIT_ADMIN: ("单位管理员", "Unit admin"),
    Role.SYSTEM_ADMIN: ("系统管理员", "System administrator"),
    Role.SECURITY_ADMIN: ("安全管理员", "Security administrator"),
    Role.AUDIT_ADMIN: ("审计管理员", "Audit administrator"),
}


class Perm(StrEnum):
    LIVE_VIEW = "live:view"  # the live overview page and its push topic
    ACCOUNT_SELF = "account:self"  # own password and second factor
    USERS_MANAGE = "users:manage"  # add, disable, reset accounts (not their roles)
    CONFIG_MANAGE = "config:manage"
    HEALTH_DETAIL = "health:detail"
    ROLES_MANAGE = "roles:manage"  # roles, data scopes, unlocks
    TOKENS_MANAGE = "tokens:manage"  # display and source tokens
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    WALL_VIEW = "wall:view"  # what a paired display may show: masked, read-only, its own screen or playlist
    INGEST = "ingest:write"  # a source token: write events to its own system's stream, nothing else
    PEOPLE_VIEW = "people:view"  # person records, masked for officers (a unit admin: own unit only)
    PII_UNMASK = "pii:unmask"  # the unmasked view of a person, with a reason; every use audited


_VIEWERS = {Perm.LIVE_VIEW, Perm.ACCOUNT_SELF}
ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.LEADERSHIP: frozenset(_VIEWERS),  # aggregates and walls; no person records
    Role.DUTY_OFFICER: frozenset(_VIEWERS | {Perm.PEOPLE_VIEW}),
    Role.SECURITY: frozenset(_VIEWERS | {Perm.PEOPLE_VIEW, Perm.PII_UNMASK}),
    Role.MANAGER: frozenset(_VIEWERS | {Perm.PEOPLE_VIEW}),
    # compound-wide counts carry no unit's records; person records are filtered to the account's unit
    Role.UNIT_ADMIN: frozenset(_VIEWERS | {Perm.PEOPLE_VIEW}),
    # the administrators administer; they do not watch the compound's data
    Role.SYSTEM_ADMIN: frozenset({Perm.ACCOUNT_SELF, Perm.USERS_MANAGE, Perm.CONFIG_MANAGE, Perm.HEALTH_DETAIL}),
    Role.SECURITY_ADMIN: frozenset({Perm.ACCOUNT_SELF, Perm.ROLES_MANAGE, Perm.TOKENS_MANAGE}),
    Role.AUDIT_ADMIN: frozenset({Perm.ACCOUNT_SELF, Perm.AUDIT_READ, Perm.AUDIT_EXPORT}),
}


class RoleError(ValueError):
    """A role assignment the separation rules forbid; the message says which rule."""


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Role names from the command line or a form; an unknown name lists the known ones."""
    out = set()
    for n in names:
        try:
            out.add(Role(n.strip()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise RoleError(f"unknown role {n!r}; known: {known}") from None
    return frozenset(out)


def check_assignment(roles: Iterable[Role], other_accounts_roles: Iterable[Iterable[Role]] = ()) -> None:
    """Refuse two of the three administrator roles for one person, across all their accounts.

    `other_accounts_roles` are the roles of the person's other accounts (same person record), so
    a second account cannot be used to combine two administrator roles either.
    """
    mine = set(roles)
    if not mine:
        raise RoleError("an account needs at least one role")
    admin = mine & ADMINS
    if len(admin) > 1:
        raise RoleError("one person cannot hold two of the three administrator roles: "
                        + ", ".join(sorted(a.value for a in admin)))
    if admin and mine - ADMINS:
        raise RoleError(f"{next(iter(admin)).value} is a separated administrator role and cannot be combined "
                        f"with {', '.join(sorted(r.value for r in mine - ADMINS))}")
    for other in other_accounts_roles:
        clash = (set(other) & ADMINS) - admin
        if admin and clash:
            raise RoleError(f"this person already holds {', '.join(sorted(c.value for c in clash))} "
                            f"on another account; the three administrators must be different people")


def permissions(roles: Iterable[Role]) -> frozenset[Perm]:
    return frozenset(p for r in roles for p in ROLE_PERMS[r])


def needs_second_factor(roles: Iterable[Role], also: Iterable[Role] = ()) -> bool:
    """Administrators always; other roles when the configuration lists them."""
    rs = set(roles)
    return bool(rs & ADMINS) or bool(rs & set(also))
