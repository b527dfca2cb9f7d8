"""The people API on the real app: masked by default, a unit admin kept to their unit, unmasking only with
pii:unmask and a reason (audited before the data leaves), hostile parameters harmless, and under the gm
profile no personal number readable in the database itself."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from sqlalchemy import Engine, func, insert, select, text

from analytics.masking import Audience, find_leaks, mask_record
from api.people import KINDS
from auth.crypto import make_backend
from auth.roles import Role
from auth.sessions import SessionStore
from domain.compound import Compound, build_compound
from tests.auth.conftest import REDIS_TEST_URL
from warehouse.db import make_engine
from warehouse.identity import auth_audit
from warehouse.models import Person, load_dimensions
from warehouse.people import PersonProtector, find_by_phone, list_people
from warehouse.schema import create_schema

FIELDS = ("id", "name", "unit_id", "rank", "card_no", "phone", "id_card", "gender")
PAYLOADS = ["' OR '1'='1", "1; DROP TABLE d_person; --", "%' UNION SELECT id_card FROM d_person --", "\x00",
            "\\x00", "x" * 5000, "%", "_", "U01' --", '" OR ""="', "-1", "0", "1e3", "１", "9" * 30, "P00001/../"]


@cache
def roster() -> Compound:
    return build_compound(7)  # the settings' default COMPOUND_SEED


def expected(person_id: str) -> dict[str, Any]:
    p = next(p for p in roster().people if p.id == person_id)
    return {k: getattr(p, k) for k in FIELDS}


def other_unit_person(unit: str) -> str:
    return next(p.id for p in roster().people if p.unit_id != unit)


def visible(value: Any) -> Any:
    """The JSON as a browser renders it (Flask escapes non-ASCII, which would hide a leaked name), without
    unit names: they are organisational, not personal, and 地方志办 contains the roster name 方志."""
    if isinstance(value, dict):
        return {k: visible(v) for k, v in value.items() if k != "unit_name"}
    return [visible(v) for v in value] if isinstance(value, list) else value


def leaks(resp: Any) -> list[Any]:
    names = [p.name for p in roster().people]
    return find_leaks(resp.text, names) + find_leaks(json.dumps(visible(resp.get_json()), ensure_ascii=False), names)


def as_(server: Any, r: redis.Redis, *roles: Role, unit: str | None = None) -> Any:
    sid = SessionStore(r).create(user_id=7, username="tester", roles=[x.value for x in roles], unit_id=unit,
                                 stage="full", address="127.0.0.1").sid
    c = server.test_client()
    c.set_cookie("cc_session", sid)
    return c


def last_audit(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.max(auth_audit.c.id), 0))).scalar_one()


def audits_since(engine: Engine, after: int, event: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        q = select(auth_audit).where(auth_audit.c.id > after, auth_audit.c.event == event).order_by(auth_audit.c.id)
        return [dict(row) for row in conn.execute(q).mappings()]


@pytest.fixture
def api(web: Any, r: redis.Redis) -> tuple[Any, Engine, redis.Redis]:
    server, _accounts, engine, _socketio = web
    return server, engine, r


def test_a_duty_officer_gets_masked_pages(api: Any) -> None:
    server, _engine, r = api
    resp = as_(server, r, Role.DUTY_OFFICER).get("/api/v1/people")
    body = resp.get_json()
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert len(body["people"]) == 50 and body["total"] == 3000 and leaks(resp) == []
    want = [mask_record(expected(p.id), KINDS, Audience.OFFICER) for p in roster().people[:50]]
    assert [{k: row[k] for k in FIELDS} for row in body["people"]] == want
    row = body["people"][0]
    assert re.fullmatch(r"1\d{2}\*{4}\d{4}", row["phone"]) and re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", row["id_card"])
    assert re.fullmatch(r"\d{4}\*+\d{4}", row["card_no"]) and "*" in row["name"] and row["unit_name"]
    last = as_(server, r, Role.DUTY_OFFICER).get("/api/v1/people?page=60").get_json()
    assert len(last["people"]) == 50 and as_(server, r, Role.MANAGER).get("/api/v1/people?page=61").json["people"] == []


def test_a_duty_officer_sees_one_person_masked_and_cannot_unmask(api: Any) -> None:
    server, engine, r = api
    c, before = as_(server, r, Role.DUTY_OFFICER), last_audit(engine)
    one = c.get("/api/v1/people/P00001?foo=bar")
    assert one.status_code == 200 and one.json["masked"] is True and leaks(one) == []
    assert {k: one.json["person"][k] for k in FIELDS} == mask_record(expected("P00001"), KINDS, Audience.OFFICER)
    refused = c.get("/api/v1/people/P00001?unmask=1&reason=调查门禁告警")
    assert refused.status_code == 403 and leaks(refused) == []
    denied = audits_since(engine, before, "access_denied")
    assert [(a["object"], a["result"], a["actor"]) for a in denied] == [("person:P00001", "denied", "user:tester")]
    assert c.get("/api/v1/people/NOPE404").status_code == 404


def test_security_unmasks_with_a_reason_and_it_is_audited(api: Any) -> None:
    server, engine, r = api
    c, before = as_(server, r, Role.SECURITY), last_audit(engine)
    for bad in ("", "&reason=", "&reason=abc", "&reason=%20%20%20%20", "&reason=" + "x" * 201, "&reason=ab%00cd"):
        assert c.get(f"/api/v1/people/P00042?unmask=1{bad}").status_code == 400, bad
    assert c.get("/api/v1/people/P99999?unmask=1&reason=调查门禁告警").status_code == 404
    assert audits_since(engine, before, "pii_unmask") == [], "no record returned, nothing to audit"
    full = c.get("/api/v1/people/P00042?unmask=1&reason=调查门禁告警")
    assert full.status_code == 200 and full.headers["Cache-Control"] == "no-store" and full.json["masked"] is False
    assert {k: full.json["person"][k] for k in FIELDS} == expected("P00042")
    [rec] = audits_since(engine, before, "pii_unmask")
    assert (rec["object"], rec["reason"], rec["actor"], rec["result"]) == ("person:P00042", "调查门禁告警",
                                                                           "user:tester", "ok")
    assert c.get("/api/v1/people/P00042").json["masked"] is True, "masked unless asked"


def test_a_unit_admin_sees_only_their_unit(api: Any) -> None:
    server, engine, r = api
    unit = roster().units[3].id
    mine = sorted(p.id for p in roster().people if p.unit_id == unit)
    c, before = as_(server, r, Role.UNIT_ADMIN, unit=unit), last_audit(engine)
    seen: list[str] = []
    for page in range(1, 100):
        body = c.get(f"/api/v1/people?page={page}").json
        assert body["total"] == len(mine) and all(row["unit_id"] == unit for row in body["people"])
        seen += [row["id"] for row in body["people"]]
        if not body["people"]:
            break
    assert seen == mine and c.get(f"/api/v1/people?unit={unit}").json["total"] == len(mine)
    assert c.get("/api/v1/people?unit=U01").status_code == 403
    stranger = other_unit_person(unit)
    assert c.get(f"/api/v1/people/{stranger}").status_code == 404
    assert c.get(f"/api/v1/people/{stranger}?unmask=1&reason=调查门禁告警").status_code == 403
    assert [a["object"] for a in audits_since(engine, before, "access_denied")] == [
        "GET /api/v1/people?unit=U01", f"person:{stranger}", f"person:{stranger}"]
    own = c.get(f"/api/v1/people/{mine[0]}")
    assert own.status_code == 200 and own.json["person"]["unit_id"] == unit and leaks(own) == []
    # a unit admin who is also a duty officer stays scoped; one without a unit sees nothing
    both = as_(server, r, Role.UNIT_ADMIN, Role.DUTY_OFFICER, unit=unit)
    assert both.get("/api/v1/people").json["total"] == len(mine)
    homeless = as_(server, r, Role.UNIT_ADMIN)
    assert [homeless.get(u).status_code for u in ("/api/v1/people", "/api/v1/people/P00001")] == [403, 403]


def test_who_may_not_read_people_at_all(api: Any) -> None:
    server, _engine, r = api
    for url in ("/api/v1/people", "/api/v1/people/P00001"):
        assert as_(server, r, Role.LEADERSHIP).get(url).status_code == 403
        assert as_(server, r, Role.SYSTEM_ADMIN).get(url).status_code == 403
        assert server.test_client().get(url).status_code == 401
    _info, code = server.config["TEST_TOKENS"].issue_display("test", "playlist:leadership", "lobby wall")
    wall = server.test_client()
    assert wall.get(f"/pair/{code}").status_code == 302 and wall.get_cookie("cc_wall") is not None
    assert wall.get("/api/v1/people").status_code == 403 and wall.get("/api/v1/people/P00001").status_code == 403


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_hostile_parameters_are_harmless(api: Any, payload: str) -> None:
    server, engine, r = api
    unit = roster().units[0].id
    for c, scoped in ((as_(server, r, Role.DUTY_OFFICER), False), (as_(server, r, Role.UNIT_ADMIN, unit=unit), True)):
        for param in ("unit", "q", "page"):
            resp = c.get(f"/api/v1/people?{param}={quote(payload, safe='')}")
            assert resp.status_code in (200, 400, 403), (param, resp.status_code)
            if resp.status_code == 200:
                body = resp.json
                assert len(body["people"]) <= 50 and leaks(resp) == []
                if scoped:
                    assert all(row["unit_id"] == unit for row in body["people"])
                if param == "q":  # matched literally as a name prefix: % and _ are not wildcards
                    pool = [p.name for p in roster().people if not scoped or p.unit_id == unit]
                    assert body["total"] == sum(n.startswith(payload.strip()) for n in pool)
                elif param == "unit":
                    assert body["total"] == 0 and not scoped
        resp = c.get(f"/api/v1/people/{quote(payload, safe='')}")
        # a decoded "/" leaves the API: Dash's catch-all /<path:path> answers with its (data-free) page shell
        shell = "/" in payload and resp.status_code == 200 and resp.mimetype == "text/html"
        assert resp.status_code in (400, 404) or shell, resp.status_code
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Person.__table__)).scalar_one() == 3000


def test_a_prefix_with_wildcards_matches_literally(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url, role="consumer")
    create_schema(engine)
    c = build_compound(7, staff=300)  # it draws 200 parents from the staff
    protector = PersonProtector(make_backend("standard", tmp_path / "keys" / "crypto.json"))
    load_dimensions(engine, c, protect=protector)
    base = {k: getattr(c.people[0], k) for k in ("unit_id", "rank", "card_no", "gender")}
    with engine.begin() as conn:
        for pid, name in (("X1", "王%_"), ("X2", "王ab"), ("X3", "王_x")):
            sealed = protector.seal("13900000000", "x")
            conn.execute(insert(Person.__table__).values(id=pid, name=name, **base, **sealed))

        def page(q: str) -> list[str]:
            return [p["name"] for p in list_people(conn, protector, unit_id=None, name_prefix=q, limit=50, offset=0)[0]]

        assert page("王%") == ["王%_"] and page("王_") == ["王_x"] and page("王a") == ["王ab"]
        assert len(find_by_phone(conn, protector, "139-0000 0000")) == 3
    engine.dispose()


@pytest.fixture(scope="module")
def gm_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second real app, built under CRYPTO_PROFILE=gm with its own data directory."""
    import app
    from settings import load_settings

    data = tmp_path_factory.mktemp("gm_web")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings({"DATA_DIR": str(data), "REDIS_URL": REDIS_TEST_URL, "DURABILITY": "warn",
                              "PORT": str(port), "CRYPTO_PROFILE": "gm"}, path=data / "none.yaml")
    app.cmd_migrate(settings)
    dash_app, _socketio = app.create_web(settings)
    engine, _ = app.warehouse(settings, "web")
    dash_app.server.config["TEST_PORT"] = port
    yield dash_app.server, engine, PersonProtector(make_backend("gm", settings.key_file))
    engine.dispose()


def test_gm_keeps_no_personal_number_in_the_database(gm_web: Any, r: redis.Redis) -> None:
    server, engine, protector = gm_web
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT id, phone, id_card, phone_idx, id_card_idx FROM d_person")).all()
    assert len(raw) == 3000 and protector.backend.name == "gm"
    token = re.compile(r"v1\.sm4gcm\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{30,}")
    assert all(token.fullmatch(row.phone) and token.fullmatch(row.id_card) for row in raw)
    runs = set(re.findall(r"[0-9Xx]{11,}", " ".join(f"{row.phone} {row.id_card}" for row in raw)))
    numbers = {p.phone for p in roster().people} | {p.id_card for p in roster().people}
    assert not any(n in run for run in runs for n in numbers), "a plaintext number is stored"
    by_id = {p.id: p for p in roster().people}
    assert all(row.phone_idx == protector.backend.index(by_id[row.id].phone, "d_person.phone") and
               row.id_card_idx == protector.backend.index(by_id[row.id].id_card, "d_person.id_card") for row in raw)
    masked = as_(server, r, Role.DUTY_OFFICER).get("/api/v1/people/P00042")
    assert {k: masked.json["person"][k] for k in FIELDS} == mask_record(expected("P00042"), KINDS, Audience.OFFICER)
    page = as_(server, r, Role.DUTY_OFFICER).get("/api/v1/people?page=2")
    assert len(page.json["people"]) == 50 and leaks(page) == [] and "v1.sm4gcm" not in page.text
    full = as_(server, r, Role.SECURITY).get("/api/v1/people/P00042?unmask=1&reason=调查门禁告警")
    assert {k: full.json["person"][k] for k in FIELDS} == expected("P00042")


def test_gm_look_up_by_phone_and_reload(gm_web: Any) -> None:
    _server, engine, protector = gm_web
    person = roster().people[1234]
    spaced = f"{person.phone[:3]} {person.phone[3:7]}-{person.phone[7:]}"
    with engine.connect() as conn:
        assert [p["id"] for p in find_by_phone(conn, protector, spaced)] == [person.id]
        assert find_by_phone(conn, protector, "10000000000") == []
    writer = make_engine(engine.url.render_as_string(False), role="consumer")
    load_dimensions(writer, roster(), protect=protector)  # every start re-seals: fresh nonces, same content
    writer.dispose()
    with engine.connect() as conn:
        [found] = find_by_phone(conn, protector, person.phone)
        assert {k: found[k] for k in FIELDS} == expected(person.id)
