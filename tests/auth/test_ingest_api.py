"""The ingest API (api/ingest.py) through the real app (create_web), real Redis (db 9) and SQLite.

Covers accepted batches landing in the stream, partial success with dead-lettering, a token confined to its
own system (URL and schema), refusals for everyone without a valid source token, size limits, the per-token
rate limit, optional request signing with replay protection, and a 503 that says what Redis confirmed (Redis going
away entirely is covered by tests/fault).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import select

import app
from auth.sessions import SessionStore
from auth.tokens import sign
from datasources.base import make_key
from datasources.canteen import schemas as canteen
from datasources.security import SecurityCameraStatus
from tests.auth.conftest import origin
from tests.auth.conftest import build_app
from warehouse.identity import auth_audit

RATE, BURST, MAX_ITEMS = 10.0, 20, 1000  # a small rate (burst = 2 x rate), so the limit is reachable


@pytest.fixture(scope="module")
def ingest_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any]]:
    """The real app (create_web registers the ingest blueprint) with a small rate so the limit is reachable."""
    server = build_app(tmp_path_factory.mktemp("ingest"), INGEST_RATE_PER_TOKEN=str(RATE))
    ctx = server.extensions["cc_auth"]
    yield server, ctx.tokens, ctx.engine


@pytest.fixture
def env(ingest_app: tuple[Any, Any, Any], r: redis.Redis) -> tuple[Any, Any, Any]:
    """Per test: a flushed Redis (streams, rate buckets, nonces)."""
    return ingest_app


def cameras(n: int, seq0: int = 1) -> list[dict[str, Any]]:
    """Valid canteen events, built with the datasource's own Struct and encoded by the app's codec."""
    now = dt.datetime.now(dt.UTC)
    enc = app.codec().encode
    return [json.loads(enc(canteen.CanteenCameraStatus(source="test.ingest", ts=now, key=make_key(now),
                                                       seq=seq0 + i, camera_id="C-CT1-K1", canteen_id="CT1",
                                                       online=True))) for i in range(n)]


def token(tokens: Any, system: str = "canteen") -> tuple[str, str]:
    info, bearer = tokens.issue_source("test", system)
    return info.id, bearer


def post(server: Any, system: str, body: Any, bearer: str | None = None, **headers: str) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/json", **headers}
    if bearer:
        h["Authorization"] = f"Bearer {bearer}"
    return server.test_client().post(f"/api/v1/ingest/{system}", data=raw, headers=h)


def audits(engine: Any, event: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(auth_audit).where(auth_audit.c.event == event)
                            .order_by(auth_audit.c.id)).mappings().all()


def test_a_valid_batch_is_accepted_into_the_stream(env: Any, r: redis.Redis) -> None:
    server, tokens, _ = env
    _id, bearer = token(tokens)
    events = cameras(3)
    resp = post(server, "canteen", events, bearer)
    assert resp.status_code == 200, resp.text
    body = resp.get_json()
    assert body["accepted"] == 3 and body["rejected"] == [] and len(body["ids"]) == 3
    assert resp.headers["Cache-Control"] == "no-store"
    stored = r.xrange("ev:canteen")
    assert [i.decode() for i, _ in stored] == body["ids"]
    assert [json.loads(f[b"e"])["key"] for _, f in stored] == [e["key"] for e in events]
    single = post(server, "canteen", cameras(1, 10)[0], bearer)  # one object without an array
    assert single.status_code == 200 and single.get_json()["accepted"] == 1 and r.xlen("ev:canteen") == 4


def test_an_invalid_item_is_dead_lettered_and_the_others_accepted(env: Any, r: redis.Redis) -> None:
    server, tokens, _ = env
    token_id, bearer = token(tokens)
    good = cameras(2)
    bad = {**cameras(1, 5)[0], "online": "maybe"}
    resp = post(server, "canteen", [good[0], bad, good[1], 7], bearer)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["accepted"] == 2 and r.xlen("ev:canteen") == 2
    assert [x["index"] for x in body["rejected"]] == [1, 3]
    assert "online" in body["rejected"][0]["reason"] and body["rejected"][1]["reason"] == "not a JSON object"
    dead = [f for _, f in r.xrange("ev:dead")]
    assert len(dead) == 2 and all(f[b"origin"] == f"ingest:{token_id}".encode() for f in dead)
    assert json.loads(dead[0][b"raw"]) == bad and b"online" in dead[0][b"reason"]


def test_a_canteen_token_cannot_write_security_events(env: Any, r: redis.Redis) -> None:
    server, tokens, engine = env
    _id, bearer = token(tokens)
    now = dt.datetime.now(dt.UTC)
    alarm = json.loads(app.codec().encode(SecurityCameraStatus(
        source="forged", ts=now, key=make_key(now), seq=1, camera_id="C1", building_id="B1", kind="video",
        online=True)))
    resp = post(server, "canteen", [alarm, *cameras(1)], bearer)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["accepted"] == 1 and body["rejected"][0]["index"] == 0
    assert "is not a canteen event" in body["rejected"][0]["reason"]
    assert r.xlen("ev:security") == 0 and r.xlen("ev:canteen") == 1
    dead = r.xrange("ev:dead")[0][1]
    assert dead[b"system"] == b"canteen" and b"security.camera_status" in dead[b"reason"]

    before = len(audits(engine, "access_denied"))
    other = post(server, "security", [alarm], bearer)
    assert other.status_code == 403 and "error" in other.get_json() and r.xlen("ev:security") == 0
    denied = audits(engine, "access_denied")
    assert len(denied) == before + 1 and denied[-1]["object"] == "POST /api/v1/ingest/security"
    assert denied[-1]["actor"] == f"token:{_id}"


def test_an_unknown_system_is_404(env: Any) -> None:
    server, tokens, _ = env
    _id, bearer = token(tokens, "nosuch")
    assert post(server, "nosuch", cameras(1), bearer).status_code == 404
    _id, canteen_bearer = token(tokens)
    assert post(server, "nosuch", cameras(1), canteen_bearer).status_code == 403, "scope is checked first"


def test_only_a_valid_source_token_may_write(env: Any, r: redis.Redis) -> None:
    server, tokens, _ = env
    events = cameras(1)
    token_id, bearer = token(tokens)
    tokens.revoke("test", token_id)
    for who in (None, "cc_0123456789abcdef_" + "x" * 43, bearer):  # none, unknown, revoked
        # anonymous to the guard: without Origin its CSRF check answers 403 first, with Origin the rule 401
        resp = post(server, "canteen", events, who)
        assert resp.status_code in (401, 403) and resp.headers["X-Access"] == "denied"
        assert post(server, "canteen", events, who, Origin=origin(server)).status_code == 401

    _info, code = tokens.issue_display("test", "playlist:leadership")
    wall = server.test_client()
    assert wall.get(f"/pair/{code}").status_code == 302
    resp = wall.post("/api/v1/ingest/canteen", json=events, headers={"Origin": origin(server)})
    assert resp.status_code in (401, 403)

    store = SessionStore(r)
    for role in ("system_admin", "duty_officer"):
        sid = store.create(user_id=1, username=f"u_{role}", roles=[role], unit_id=None, stage="full",
                           address="127.0.0.1").sid
        person = server.test_client()
        person.set_cookie("cc_session", sid)
        resp = person.post("/api/v1/ingest/canteen", json=events, headers={"Origin": origin(server)})
        assert resp.status_code == 403
        _id, valid = token(tokens)  # a session wins over a bearer: still a person, still refused
        resp = person.post("/api/v1/ingest/canteen", json=events,
                           headers={"Origin": origin(server), "Authorization": f"Bearer {valid}"})
        assert resp.status_code == 403
    assert r.xlen("ev:canteen") == 0


def test_malformed_oversized_and_odd_bodies(env: Any, r: redis.Redis) -> None:
    server, tokens, _ = env
    _id, bearer = token(tokens)
    bad = post(server, "canteen", b'[{"schema": ', bearer)
    assert bad.status_code == 400 and "malformed JSON" in bad.get_json()["error"]
    assert post(server, "canteen", [], bearer).status_code == 400
    assert post(server, "canteen", "canteen.camera", bearer).status_code == 400
    many = post(server, "canteen", cameras(1) * (MAX_ITEMS + 1), bearer)
    assert many.status_code == 413 and f"at most {MAX_ITEMS}" in many.get_json()["error"]
    huge = post(server, "canteen", b"[" + b" " * 1_048_576 + b"]", bearer)
    assert huge.status_code == 413 and "error" in huge.get_json()
    text = server.test_client().post("/api/v1/ingest/canteen", data=json.dumps(cameras(1)),
                                     headers={"Authorization": f"Bearer {bearer}", "Content-Type": "text/plain"})
    assert text.status_code == 415
    assert r.xlen("ev:canteen") == 0 and r.xlen("ev:dead") == 0


def test_the_rate_limit_refuses_whole_batches(env: Any, r: redis.Redis) -> None:
    server, tokens, _ = env
    _id, bearer = token(tokens)
    big = post(server, "canteen", cameras(BURST + 5), bearer)
    assert big.status_code == 429 and int(big.headers["Retry-After"]) >= 1
    assert "split it" in big.get_json()["error"] and r.xlen("ev:canteen") == 0

    assert post(server, "canteen", cameras(15), bearer).status_code == 200
    again = post(server, "canteen", cameras(15, 100), bearer)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
    assert r.xlen("ev:canteen") == 15, "nothing of a refused batch is accepted"
    assert post(server, "canteen", cameras(5, 200), bearer).status_code == 200, "what is left of the bucket"
    _other, fresh = token(tokens)
    assert post(server, "canteen", cameras(BURST), fresh).status_code == 200, "buckets are per token"


def signed(bearer: str, body: bytes, nonce: str, *, secret: str | None = None) -> dict[str, str]:
    ts = str(int(time.time()))
    real = bearer.split("_", 2)[2]
    sig = sign(secret or real, "POST", "/api/v1/ingest/canteen", ts, nonce, body)
    return {"X-CC-Timestamp": ts, "X-CC-Nonce": nonce, "X-CC-Signature": sig}


def test_a_signed_request_is_checked_and_its_nonce_used_once(env: Any, r: redis.Redis) -> None:
    server, tokens, engine = env
    token_id, bearer = token(tokens)
    body = json.dumps(cameras(1)).encode()
    wrong = post(server, "canteen", body, bearer, **signed(bearer, body, "n" * 20, secret="not-the-secret"))
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "bad signature"
    tampered = post(server, "canteen", json.dumps(cameras(2)).encode(), bearer, **signed(bearer, body, "t" * 20))
    assert tampered.status_code == 401 and r.xlen("ev:canteen") == 0

    headers = signed(bearer, body, "abcdefghijklmnop-1")
    ok = post(server, "canteen", body, bearer, **headers)
    assert ok.status_code == 200 and ok.get_json()["accepted"] == 1
    replay = post(server, "canteen", body, bearer, **headers)
    assert replay.status_code == 401 and replay.get_json()["error"] == "replayed nonce"
    assert r.xlen("ev:canteen") == 1

    denied = [a for a in audits(engine, "ingest_signature") if a["object"] == f"token:{token_id}"]
    assert [a["reason"] for a in denied] == ["bad signature", "bad signature", "replayed nonce"]
    assert all(a["result"] == "denied" for a in denied)


def test_a_write_redis_refuses_answers_503_with_what_was_confirmed(env: Any, r: redis.Redis) -> None:
    server, tokens, _ = env
    _id, bearer = token(tokens)
    r.set("ev:canteen", "not a stream")  # every XADD to the canteen stream now fails with WRONGTYPE
    wrong = {**cameras(1)[0], "schema": "security.camera_status"}
    resp = post(server, "canteen", [wrong, *cameras(2)], bearer)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    body = resp.get_json()
    assert (body["processed"], body["accepted"], body["ids"]) == (1, 0, [])
    assert body["rejected"] == [{"index": 0, "reason": "schema 'security.camera_status' is not a canteen event "
                                                       "(expected canteen.*)"}]
