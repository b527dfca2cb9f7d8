"""GET /api/v1/people and /api/v1/people/<id>: person records, masked on the server by default.

The guard (auth/web.py) has already refused anyone without `people:view`. Here:

* every record is masked for Audience.OFFICER (张*龙, 138****5678, 110101********1234) before it is sent;
* a unit admin sees their own unit only: naming another unit is a 403, another unit's person a 404
  (so an id's existence is not confirmed), both audited as ``access_denied``;
* ``?unmask=1&reason=...`` returns the full record to a holder of `pii:unmask` with a 4-200 character
  reason, and writes the ``pii_unmask`` audit record before the data leaves (no record, no data).

Inputs are validated before they reach a query, and the queries bind them (warehouse/people.py).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import Engine

from analytics.masking import Audience, FieldKind, mask_record
from auth.access import Principal
from auth.roles import Perm, Role
from auth.web import AuthContext
from warehouse.people import PersonProtector, get_person, list_people

PER_PAGE = 50
MAX_PAGE = 100_000  # far beyond the roster; keeps OFFSET inside every engine's integer range
MAX_QUERY = 32  # d_person.name is String(32): a longer prefix cannot match
REASON_LEN = (4, 200)
KINDS = {"name": FieldKind.NAME, "phone": FieldKind.PHONE, "id_card": FieldKind.ID_CARD, "card_no": FieldKind.CARD}
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PAGE = re.compile(r"[0-9]{1,6}")


def _error(status: int, message: str) -> Response:
    resp = jsonify({"error": message})
    resp.status_code = status
    return resp


def _has_control(text: str) -> bool:
    """NUL and other control characters: never in a name or a reason, and PostgreSQL refuses NUL outright."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def people_blueprint(engine: Engine, protector: PersonProtector, ctx: AuthContext) -> Blueprint:
    """The read API of person records; `protector` opens the encrypted columns of the active profile."""
    bp = Blueprint("people", __name__)

    def deny(status: int, obj: str, reason: str) -> Response:
        ctx.audit("access_denied", result="denied", obj=obj[:255], reason=reason)
        return _error(status, "forbidden" if status == 403 else "not found")

    def unit_scope(who: Principal) -> tuple[bool, str | None]:
        """(is a unit admin, their unit); a unit admin is scoped whatever other roles they hold."""
        return Role.UNIT_ADMIN in who.roles, who.unit_id

    @bp.get("/api/v1/people", endpoint="list")
    def people_list() -> Response:
        who: Principal = g.principal
        scoped, own_unit = unit_scope(who)
        unit = request.args.get("unit") or None
        if scoped:
            if not own_unit:
                return deny(403, f"GET {request.path}", "unit admin without a unit")
            if unit is not None and unit != own_unit:
                return deny(403, f"GET {request.path}?unit={unit[:40]}", f"unit admin of {own_unit} named another unit")
            unit = own_unit
        elif unit is not None and not _ID.fullmatch(unit):
            return _error(400, "unit: expected a unit id")
        page_arg = request.args.get("page", "1")
        if not _PAGE.fullmatch(page_arg) or not 1 <= int(page_arg) <= MAX_PAGE:
            return _error(400, f"page: expected a whole number from 1 to {MAX_PAGE}")
        page = int(page_arg)
        q = request.args.get("q", "").strip() or None
        if q is not None and (len(q) > MAX_QUERY or _has_control(q)):
            return _error(400, f"q: a name prefix of at most {MAX_QUERY} printable characters")
        with engine.connect() as conn:
            rows, total = list_people(conn, protector, unit_id=unit, name_prefix=q, limit=PER_PAGE,
                                      offset=(page - 1) * PER_PAGE)
        return jsonify({"people": [mask_record(r, KINDS, Audience.OFFICER) for r in rows], "total": total,
                        "page": page, "per_page": PER_PAGE, "unit": unit})

    @bp.get("/api/v1/people/<person_id>", endpoint="person")
    def person(person_id: str) -> Response:
        who: Principal = g.principal
        scoped, own_unit = unit_scope(who)
        if scoped and not own_unit:
            return deny(403, f"GET {request.path}"[:255], "unit admin without a unit")
        if not _ID.fullmatch(person_id):
            return _error(404, "not found")
        obj = f"person:{person_id}"
        unmask = request.args.get("unmask") == "1"
        reason = ""
        if unmask:
            if Perm.PII_UNMASK not in who.perms:
                return deny(403, obj, f"unmask requires {Perm.PII_UNMASK}")
            reason = request.args.get("reason", "").strip()
            if not REASON_LEN[0] <= len(reason) <= REASON_LEN[1] or _has_control(reason):
                return _error(400, f"reason: {REASON_LEN[0]}-{REASON_LEN[1]} characters saying why, required to unmask")
        with engine.connect() as conn:
            record: dict[str, Any] | None = get_person(conn, protector, person_id)
        if record is None:
            return _error(404, "not found")
        if scoped and record["unit_id"] != own_unit:
            return deny(404, obj, f"unit admin of {own_unit} asked for a person of another unit")
        if unmask:  # the audit record commits before any unmasked byte is sent; if it fails, nothing is sent
            ctx.audit("pii_unmask", obj=obj, reason=reason, detail={"fields": sorted(KINDS)})
            return jsonify({"person": record, "masked": False})
        return jsonify({"person": mask_record(record, KINDS, Audience.OFFICER), "masked": True})

    return bp
