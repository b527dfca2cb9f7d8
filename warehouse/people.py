"""Person records with their personal data protected at rest, and the queries the people API runs.

Under the `gm` profile (GB/T 39786) phone and ID-card numbers are stored as SM4-GCM tokens bound to
their column (the AEAD context), so a copied database file or backup shows no personal numbers. Under
`standard` they stay plaintext as before. Both profiles fill keyed-HMAC index columns, so an equality
look-up (who has this phone?) takes one code path and never decrypts every row. Every query binds its
parameters; nothing user-supplied is ever spliced into SQL text.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Select, func, select

from auth.crypto import TOKEN_VERSION, CryptoBackend
from warehouse.models import Person, Unit

PHONE_CONTEXT = "d_person.phone"
ID_CARD_CONTEXT = "d_person.id_card"
ENCRYPTING_PROFILES = frozenset({"gm"})  # standard keeps today's plaintext (SECURITY.md)
MAX_LIMIT = 500  # a caller bug must not turn one request into a dump of the whole roster

_person = Person.__table__
_unit = Unit.__table__
_COLUMNS = (_person.c.id, _person.c.name, _person.c.unit_id, _unit.c.name.label("unit_name"), _person.c.rank,
            _person.c.card_no, _person.c.phone, _person.c.id_card, _person.c.gender)
_SPACES = re.compile(r"[\s-]")


def normalise(value: str) -> str:
    """The form an index is computed on, so '138 0013 8000' finds '13800138000' and 'x' finds 'X'."""
    return _SPACES.sub("", value).upper()


def open_field(backend: CryptoBackend, value: str | None, context: str) -> str | None:
    """A stored personal field in clear, whichever profile wrote it.

    Under gm a plaintext value fails loudly (CryptoError): it was stored unprotected; under standard
    a token left from gm is opened, or refused with a "re-encrypt" message.
    """
    if value is None or (backend.name not in ENCRYPTING_PROFILES and not value.startswith(TOKEN_VERSION + ".")):
        return value
    return backend.decrypt_field(value, context)


class PersonProtector:
    """Seals and opens a person's phone and ID-card columns with the active crypto backend."""

    def __init__(self, backend: CryptoBackend) -> None:
        self.backend = backend
        self.encrypts = backend.name in ENCRYPTING_PROFILES

    def phone_index(self, phone: str) -> str:
        return self.backend.index(normalise(phone), PHONE_CONTEXT)

    def id_card_index(self, id_card: str) -> str:
        return self.backend.index(normalise(id_card), ID_CARD_CONTEXT)

    def seal(self, phone: str, id_card: str) -> dict[str, str]:
        """Column values for d_person: encrypted fields under gm, plaintext otherwise; index columns always."""
        return {
            "phone": self.backend.encrypt_field(phone, PHONE_CONTEXT) if self.encrypts else phone,
            "id_card": self.backend.encrypt_field(id_card, ID_CARD_CONTEXT) if self.encrypts else id_card,
            "phone_idx": self.phone_index(phone),
            "id_card_idx": self.id_card_index(id_card),
        }

    def _open_one(self, value: str | None, context: str) -> str | None:
        return open_field(self.backend, value, context)

    def open(self, row: Any) -> tuple[str | None, str | None]:
        """(phone, id_card) in clear from a d_person row (a mapping or an object with those attributes)."""
        get = row.get if hasattr(row, "get") else lambda k: getattr(row, k)
        return self._open_one(get("phone"), PHONE_CONTEXT), self._open_one(get("id_card"), ID_CARD_CONTEXT)


def _base() -> Select[Any]:
    return select(*_COLUMNS).select_from(_person.outerjoin(_unit, _unit.c.id == _person.c.unit_id))


def _record(protector: PersonProtector, row: Any) -> dict[str, Any]:
    out = dict(row)
    out["phone"], out["id_card"] = protector.open(row)
    return out


def get_person(conn: Connection, protector: PersonProtector, person_id: str) -> dict[str, Any] | None:
    """One person in clear (callers mask it), or None."""
    row = conn.execute(_base().where(_person.c.id == person_id)).mappings().first()
    return _record(protector, row) if row is not None else None


def list_people(conn: Connection, protector: PersonProtector, *, unit_id: str | None, name_prefix: str | None,
                limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of people ordered by id, and how many match in all; filters are bound, LIKE wildcards escaped."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise ValueError(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
    conditions = []
    if unit_id is not None:
        conditions.append(_person.c.unit_id == unit_id)
    if name_prefix:
        # autoescape: a % or _ in the prefix matches itself, not "anything"
        conditions.append(_person.c.name.startswith(name_prefix, autoescape=True))
    total = conn.execute(select(func.count()).select_from(_person).where(*conditions)).scalar_one()
    rows = conn.execute(_base().where(*conditions).order_by(_person.c.id).limit(limit).offset(offset)).mappings()
    return [_record(protector, row) for row in rows], int(total)


def find_by_phone(conn: Connection, protector: PersonProtector, phone: str) -> list[dict[str, Any]]:
    """People with this phone number, found through the index column (no row is decrypted to search)."""
    rows = conn.execute(_base().where(_person.c.phone_idx == protector.phone_index(phone))
                        .order_by(_person.c.id)).mappings()
    wanted = normalise(phone)
    # the decrypted value is compared too: a stale index row never returns the wrong person
    return [rec for rec in (_record(protector, row) for row in rows) if normalise(rec["phone"] or "") == wanted]
