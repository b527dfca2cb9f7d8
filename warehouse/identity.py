"""Identity and audit tables, in the warehouse database so an audit record commits with its action.

- `auth_user`, `auth_user_role`, `auth_password_history`, `auth_sso_link`: accounts; one person
  record per account, several roles per account (the three administrators stay exclusive, which
  `auth.roles` enforces before a write).
- `auth_token`: display (wall) and source (ingest) tokens; only hashes of secrets are stored.
- `auth_audit` and `auth_audit_head`: the append-only audit log. Ids are assigned under a lock on
  the single head row, so they are contiguous and the hash chain is linear; the head keeps the
  newest id and hash so a removed last record shows, and the purge anchor so retention can cut
  the old end without breaking verification.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from warehouse.models import Base
from warehouse.sqltypes import UtcDateTime

metadata = Base.metadata

auth_user = Table(
    "auth_user", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False, default=""),
    Column("person_id", String(32), nullable=True, unique=True),  # the d_person record it belongs to
    Column("unit_id", String(32), nullable=True),  # data scope of a unit admin
    Column("password_hash", String(255), nullable=True),  # NULL: single sign-on only
    Column("password_changed_at", UtcDateTime, nullable=True),
    Column("must_change", Boolean, nullable=False, default=False),
    Column("totp_secret", String(255), nullable=True),  # encrypted with the crypto backend
    Column("totp_last_step", BigInteger, nullable=True),  # a TOTP code is accepted once
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
)

auth_user_role = Table(
    "auth_user_role", metadata,
    Column("user_id", Integer, ForeignKey("auth_user.id"), primary_key=True),
    Column("role", String(32), primary_key=True),
)

auth_password_history = Table(
    "auth_password_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("auth_user.id"), nullable=False, index=True),
    Column("password_hash", String(255), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
)

auth_sso_link = Table(
    "auth_sso_link", metadata,
    Column("issuer", String(255), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", Integer, ForeignKey("auth_user.id"), nullable=False, unique=True),
    Column("linked_at", UtcDateTime, nullable=False),
)

auth_token = Table(
    "auth_token", metadata,
    Column("id", String(32), primary_key=True),  # public id, shown in lists and audit records
    Column("kind", String(16), nullable=False),  # display | source
    Column("scope", String(128), nullable=False),  # playlist:NAME, screen:ID, system:NAME
    Column("label", String(128), nullable=False, default=""),
    Column("secret_hash", String(128), nullable=True),  # wall cookie / source token secret
    Column("pair_code_hash", String(128), nullable=True),  # one-time pairing code (display)
    Column("pair_expires_at", UtcDateTime, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),  # set on rotation: the overlap's end
    Column("revoked_at", UtcDateTime, nullable=True),
    Index("ix_auth_token_kind_scope", "kind", "scope"),
)

auth_audit = Table(
    "auth_audit", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", UtcDateTime, nullable=False, index=True),
    Column("actor", String(128), nullable=False),  # user:NAME, token:ID, anonymous, system
    Column("address", String(64), nullable=False, default=""),
    Column("event", String(64), nullable=False, index=True),
    Column("object", String(255), nullable=False, default=""),
    Column("result", String(16), nullable=False),  # ok | fail | denied
    Column("reason", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),  # canonical JSON (before/after of a change)
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

auth_audit_head = Table(
    "auth_audit_head", metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("last_id", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("anchor_id", BigInteger, nullable=False),  # records up to here were purged by retention
    Column("anchor_hash", String(64), nullable=False),
    Column("algorithm", String(16), nullable=False),  # sha256 | sm3: the chain's digest
)
