"""Personal numbers in the fact tables, protected at rest like the person dimension (warehouse/people.py).

Why here and not in each writer: the sink and the backfill both build their rows with
`FactTable.rows`, which hands the rows of protected tables (and only those) to a `FactSealer`.
Under the `gm` profile (GB/T 39786) each phone / ID-card value becomes an SM4-GCM token bound to
its column (the AEAD context, e.g. `f_passage_visitor.phone`); under `standard` it stays plaintext.
Both profiles fill the keyed-HMAC `<field>_idx` column, so "which passes had this phone?" takes one
code path and never decrypts a table to search it. The primary key is never sealed, so redelivered
events are still recognised by it (idempotency) even though tokens differ on every encryption.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from auth.crypto import CryptoBackend
from warehouse.facts import INDEX_SUFFIX, FactTable
from warehouse.people import ENCRYPTING_PROFILES, MAX_LIMIT, normalise, open_field


class FactSealer:
    """Seals the protected values of fact rows in place and opens them again for readers."""

    def __init__(self, backend: CryptoBackend) -> None:
        self.backend = backend
        self.encrypts = backend.name in ENCRYPTING_PROFILES

    def index(self, value: str, context: str) -> str:
        """The look-up key of a value: normalised first, so '138-0013-8000' finds '13800138000'."""
        return self.backend.index(normalise(value), context)

    def seal_rows(self, rows: list[list[Any]], protected: tuple[tuple[int, int, str], ...]) -> None:
        """Fill index positions and, under gm, replace values by tokens.

        An empty value (a number the source did not send) is left as is with no index: it holds
        nothing personal, and an index of "" would make every blank row match a look-up.
        """
        index = self.backend.index
        encrypt = self.backend.encrypt_field if self.encrypts else None
        for row in rows:
            for value_at, index_at, context in protected:
                value = row[value_at]
                if not value:
                    continue
                row[index_at] = index(normalise(value), context)
                if encrypt is not None:
                    row[value_at] = encrypt(value, context)

    def open(self, value: str | None, context: str) -> str | None:
        """A stored value in clear; CryptoError on a tampered token or a plaintext value under gm."""
        return open_field(self.backend, value, context) if value else value


def _protected_field(ft: FactTable, field: str) -> str:
    for value_at, _index_at, context in ft.protected:
        if ft.columns[value_at] == field:
            return context
    raise ValueError(f"{ft.table.name}.{field} is not a protected field; look-ups go through index columns only")


def find_facts_by_value(conn: Connection, ft: FactTable, field: str, value: str, sealer: FactSealer, *,
                        limit: int = MAX_LIMIT) -> list[dict[str, Any]]:
    """Facts whose protected `field` equals `value`, newest first, with protected values in clear.

    Found through the index column (no row is decrypted to search); the decrypted value is compared
    too, so a stale or colliding index entry never returns a wrong row. Index columns are left out.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    context = _protected_field(ft, field)
    t = ft.table
    index_columns = {ft.columns[index_at] for _value_at, index_at, _ctx in ft.protected}
    shown = [c for c in t.columns if c.name not in index_columns]
    stmt = (select(*shown).where(t.c[field + INDEX_SUFFIX] == sealer.index(value, context))
            .order_by(t.c.key.desc()).limit(limit))
    contexts = {ft.columns[value_at]: ctx for value_at, _index_at, ctx in ft.protected}
    wanted = normalise(value)
    out = []
    for row in conn.execute(stmt).mappings():
        rec = dict(row)
        for name, ctx in contexts.items():
            rec[name] = sealer.open(rec[name], ctx)
        if normalise(rec[field] or "") == wanted:
            out.append(rec)
    return out
