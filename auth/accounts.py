"""Accounts: create, authenticate, change roles and passwords, enrol and check the second factor.

Every change writes its audit record in the same transaction (SECURITY.md: the audit write
succeeds with the action or the action fails). Callers end sessions after a change of roles,
a disable or a reset (`SessionStore.end_user`); this module only touches the database.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from auth import audit, totp
from auth.audit import AuditEvent
from auth.crypto import CryptoBackend
from auth.passwords import PasswordPolicy, Problem, check_password
from auth.roles import Role, check_assignment, parse_roles
from warehouse.identity import auth_password_history, auth_user, auth_user_role
from warehouse.models import Unit

TOTP_CONTEXT = "auth_user.totp_secret"
KEEP = object()  # set_roles: leave the data scope as it is


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    person_id: str | None
    unit_id: str | None
    roles: frozenset[Role]
    password_hash: str | None
    password_changed_at: dt.datetime | None
    must_change: bool
    totp_enrolled: bool
    disabled: bool


class AccountError(ValueError):
    """A refused account operation; the message is shown to the operator as it is."""


def generated_password() -> str:
    """A random password that satisfies both policy profiles (4 classes, 16 characters)."""
    body = secrets.token_urlsafe(12)
    return f"{body}a7Q!"


class Accounts:
    def __init__(self, engine: Engine, crypto: CryptoBackend, policy: PasswordPolicy, *,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        self.engine, self.crypto, self.policy, self.clock = engine, crypto, policy, clock
        self._dummy = crypto.hash_password(secrets.token_hex(16))  # equal work for unknown names

    # --- reads -------------------------------------------------------------------------------------------
    def get(self, username: str | None = None, *, user_id: int | None = None) -> Account | None:
        with self.engine.connect() as conn:
            return self._get(conn, username, user_id)

    def _get(self, conn: Connection, username: str | None, user_id: int | None) -> Account | None:
        q = select(auth_user).where(auth_user.c.username == username if user_id is None else auth_user.c.id == user_id)
        row = conn.execute(q).mappings().first()
        if row is None:
            return None
        roles = conn.execute(select(auth_user_role.c.role).where(auth_user_role.c.user_id == row["id"])).scalars()
        return Account(id=row["id"], username=row["username"], display_name=row["display_name"],
                       person_id=row["person_id"], unit_id=row["unit_id"], roles=parse_roles(roles),
                       password_hash=row["password_hash"], password_changed_at=row["password_changed_at"],
                       must_change=row["must_change"], totp_enrolled=row["totp_secret"] is not None,
                       disabled=row["disabled"])

    def list(self) -> list[Account]:
        with self.engine.connect() as conn:
            names = conn.execute(select(auth_user.c.username).order_by(auth_user.c.username)).scalars().all()
            return [a for n in names if (a := self._get(conn, n, None)) is not None]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(auth_user)).scalar_one())

    # --- changes by an administrator -------------------------------------------------------------------
    def create(self, actor: str, username: str, roles: Iterable[str], *, display_name: str = "",
               unit_id: str | None = None, person_id: str | None = None, password: str | None = None,
               must_change: bool = True, address: str = "") -> tuple[Account, str]:
        """A new account with a given or generated password; returns it with the password to hand over."""
        from auth.lockout import USERNAME

        if not USERNAME.match(username):
            raise AccountError(f"username {username!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")
        rs = parse_roles(roles)
        password = password or generated_password()
        problems = check_password(password, self.policy, username=username)
        if problems:
            raise AccountError("; ".join(p.en for p in problems))
        now = self.clock()
        with audit.writer(self.engine) as conn:
            check_assignment(rs, self._person_roles(conn, person_id, exclude=None))
            self._check_scope(conn, rs, unit_id)
            if self._get(conn, username, None) is not None:
                raise AccountError(f"username {username!r} is taken")
            pw_hash = self.crypto.hash_password(password)
            uid = conn.execute(insert(auth_user).values(
                username=username, display_name=display_name or username, person_id=person_id, unit_id=unit_id,
                password_hash=pw_hash, password_changed_at=now, must_change=must_change, disabled=False,
                created_at=now)).inserted_primary_key[0]
            conn.execute(insert(auth_user_role), [{"user_id": uid, "role": r.value} for r in sorted(rs)])
            conn.execute(insert(auth_password_history).values(user_id=uid, password_hash=pw_hash, changed_at=now))
            audit.append(conn, AuditEvent(actor=actor, event="user_create", object=f"user:{username}",
                                          address=address, detail={"roles": sorted(rs), "unit_id": unit_id}),
                         now=now, profile=self.crypto.name)
            return self._get(conn, None, uid), password  # type: ignore[return-value]

    def _person_roles(self, conn: Connection, person_id: str | None, exclude: int | None) -> list[set[Role]]:
        if person_id is None:
            return []
        ids = conn.execute(select(auth_user.c.id).where(auth_user.c.person_id == person_id)).scalars().all()
        return [set(a.roles) for i in ids if i != exclude and (a := self._get(conn, None, i)) is not None]

    def set_roles(self, actor: str, username: str, roles: Iterable[str], *, unit_id: str | None | object = KEEP,
                  address: str = "") -> Account:
        """Roles and, when given, the data scope (unit) in one audited change; a unit admin needs a unit."""
        rs = parse_roles(roles)
        with audit.writer(self.engine) as conn:
            acc = self._require(conn, username)
            unit = acc.unit_id if unit_id is KEEP else (unit_id or None)
            check_assignment(rs, self._person_roles(conn, acc.person_id, exclude=acc.id))
            self._check_scope(conn, rs, unit)
            conn.execute(delete(auth_user_role).where(auth_user_role.c.user_id == acc.id))
            conn.execute(insert(auth_user_role), [{"user_id": acc.id, "role": r.value} for r in sorted(rs)])
            conn.execute(update(auth_user).where(auth_user.c.id == acc.id).values(unit_id=unit))
            audit.append(conn, AuditEvent(actor=actor, event="role_change", object=f"user:{username}", address=address,
                                          detail={"before": sorted(acc.roles), "after": sorted(rs),
                                                  "unit_before": acc.unit_id, "unit_after": unit}),
                         now=self.clock(), profile=self.crypto.name)
            return self._get(conn, None, acc.id)  # type: ignore[return-value]

    @staticmethod
    def _check_scope(conn: Connection, roles: frozenset[Role], unit: str | None) -> None:
        if Role.UNIT_ADMIN in roles and not unit:
            raise AccountError("a unit admin needs a unit (data scope)")
        if unit and conn.execute(select(Unit.id).where(Unit.id == unit)).first() is None:
            raise AccountError(f"no unit {unit!r}")

    def set_disabled(self, actor: str, username: str, disabled: bool, *, address: str = "") -> None:
        with audit.writer(self.engine) as conn:
            acc = self._require(conn, username)
            conn.execute(update(auth_user).where(auth_user.c.id == acc.id).values(disabled=disabled))
            audit.append(conn, AuditEvent(actor=actor, event="user_disable" if disabled else "user_enable",
                                          object=f"user:{username}", address=address),
                         now=self.clock(), profile=self.crypto.name)

    def reset_password(self, actor: str, username: str, *, address: str = "", reset_totp: bool = False) -> str:
        """A new generated password the user must change at next login; optionally a new TOTP enrolment."""
        password = generated_password()
        now = self.clock()
        with audit.writer(self.engine) as conn:
            acc = self._require(conn, username)
            values: dict[str, object] = {"password_hash": self.crypto.hash_password(password),
                                         "password_changed_at": now, "must_change": True}
            if reset_totp:
                values.update(totp_secret=None, totp_last_step=None)
            conn.execute(update(auth_user).where(auth_user.c.id == acc.id).values(**values))
            audit.append(conn, AuditEvent(actor=actor, event="password_reset", object=f"user:{username}",
                                          address=address, detail={"totp_reset": reset_totp}),
                         now=now, profile=self.crypto.name)
        return password

    def _require(self, conn: Connection, username: str) -> Account:
        acc = self._get(conn, username, None)
        if acc is None:
            raise AccountError(f"no account named {username!r}")
        return acc

    # --- the user's own actions -------------------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the password is right and the account enabled; same cost either way."""
        acc = self.get(username)
        encoded = acc.password_hash if acc is not None and acc.password_hash else self._dummy
        ok = self.crypto.verify_password(encoded, password)
        if acc is None or not ok or acc.disabled or not acc.password_hash:
            return None
        if self.crypto.needs_rehash(acc.password_hash):
            with self.engine.begin() as conn:
                conn.execute(update(auth_user).where(auth_user.c.id == acc.id)
                             .values(password_hash=self.crypto.hash_password(password)))
        return acc

    def change_password(self, user_id: int, old: str, new: str, *, address: str = "") -> list[Problem]:
        """Problems with the new password (nothing changed), or [] after the change was stored."""
        acc = self.get(user_id=user_id)
        if acc is None or not acc.password_hash or not self.crypto.verify_password(acc.password_hash, old):
            return [Problem("old_password", "原密码不正确", "The current password is wrong")]
        with self.engine.connect() as conn:
            recent = conn.execute(select(auth_password_history.c.password_hash)
                                  .where(auth_password_history.c.user_id == user_id)
                                  .order_by(auth_password_history.c.id.desc()).limit(max(self.policy.history, 1))
                                  ).scalars().all()
        reused = any(self.crypto.verify_password(h, new) for h in recent[: self.policy.history])
        problems = check_password(new, self.policy, username=acc.username, reused=reused)
        if new == old:
            problems.append(Problem("same", "新密码不能与原密码相同",
                                    "The new password must differ from the current one"))
        if problems:
            return problems
        now, pw_hash = self.clock(), self.crypto.hash_password(new)
        with audit.writer(self.engine) as conn:
            conn.execute(update(auth_user).where(auth_user.c.id == user_id)
                         .values(password_hash=pw_hash, password_changed_at=now, must_change=False))
            conn.execute(insert(auth_password_history).values(user_id=user_id, password_hash=pw_hash, changed_at=now))
            audit.append(conn, AuditEvent(actor=f"user:{acc.username}", event="password_change",
                                          object=f"user:{acc.username}", address=address),
                         now=now, profile=self.crypto.name)
        return []

    def enrol_totp(self, user_id: int, secret: str, code: str, *, address: str = "") -> bool:
        """Store the secret once the user proves their app produces its codes."""
        step = totp.verify(secret, code, self.clock(), None)
        if step is None:
            return False
        acc = self.get(user_id=user_id)
        with audit.writer(self.engine) as conn:
            conn.execute(update(auth_user).where(auth_user.c.id == user_id).values(
                totp_secret=self.crypto.encrypt_field(secret, TOTP_CONTEXT), totp_last_step=step))
            audit.append(conn, AuditEvent(actor=f"user:{acc.username if acc else user_id}", event="totp_enrol",
                                          object=f"user:{acc.username if acc else user_id}", address=address),
                         now=self.clock(), profile=self.crypto.name)
        return True

    def check_totp(self, user_id: int, code: str) -> bool:
        """A code of the user's app, accepted once: the step is claimed with a conditional update."""
        with self.engine.connect() as conn:
            row = conn.execute(select(auth_user.c.totp_secret, auth_user.c.totp_last_step)
                               .where(auth_user.c.id == user_id)).first()
        if row is None or row.totp_secret is None:
            return False
        step = totp.verify(self.crypto.decrypt_field(row.totp_secret, TOTP_CONTEXT), code, self.clock(),
                           row.totp_last_step)
        if step is None:
            return False
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            claimed = conn.execute(update(auth_user).where(
                auth_user.c.id == user_id,
                or_(auth_user.c.totp_last_step.is_(None), auth_user.c.totp_last_step < step),
            ).values(totp_last_step=step)).rowcount
        return claimed == 1
