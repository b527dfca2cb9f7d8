"""Display and source tokens on SQLite and PostgreSQL, and request signing on the real Redis: a pairing code
works once, rotation overlaps, revocation is seen by the sweeper, every change is audited without secrets."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select

from auth import audit
from auth.crypto import make_backend
from auth.tokens import SignatureChecker, TokenError, Tokens, sign, signing_string, split_bearer
from warehouse.identity import auth_audit, auth_audit_head, auth_token

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
ADMIN = "user:admin"


class Clock:
    """A clock the test moves by hand, shared by the token store."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(idb: Engine, tmp_path: Path, clock: Clock) -> Tokens:
    return Tokens(idb, make_backend("standard", tmp_path / "k.json"), clock=clock)


def audit_rows(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(auth_audit).order_by(auth_audit.c.id)).mappings()]


def chain_problems(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(p) for p in audit.verify(conn)]


@pytest.mark.parametrize("profile", ["standard", "gm"])
def test_round_trip(idb: Engine, tmp_path: Path, clock: Clock, profile: str) -> None:
    tk = Tokens(idb, make_backend(profile, tmp_path / "k.json"), clock=clock)
    info, code = tk.issue_display(ADMIN, "playlist:leadership", "lobby wall", address="10.0.0.5")
    assert len(code) == 11 and code[5] == "-" and not info.paired and info.created_by == ADMIN
    paired, cookie = tk.pair(code.lower().replace("-", " "), address="10.0.0.9")  # typed sloppily on the wall
    assert paired.id == info.id and paired.paired and cookie.startswith(f"{info.id}.")
    assert tk.verify_wall(cookie) == paired
    src, bearer = tk.issue_source(ADMIN, "canteen", "pos gateway")
    assert src.scope == "system:canteen" and bearer.startswith(f"cc_{src.id}_")
    assert tk.verify_source(bearer) == src
    assert [t.id for t in tk.list("display")] == [info.id] and {t.id for t in tk.list()} == {info.id, src.id}
    with idb.connect() as conn:
        algorithm = conn.execute(select(auth_audit_head.c.algorithm)).scalar_one()
        stored = conn.execute(select(auth_token.c.secret_hash).where(auth_token.c.id == src.id)).scalar_one()
    assert algorithm == {"standard": "sha256", "gm": "sm3"}[profile]
    assert stored == tk.crypto.index(split_bearer(bearer)[1], "auth_token")  # only a keyed hash is kept
    assert [r["event"] for r in audit_rows(idb)] == ["token_issue", "wall_pair", "token_issue"]
    assert chain_problems(idb) == []


def test_pairing_code_works_once_and_expires(tokens: Tokens, idb: Engine, clock: Clock) -> None:
    first, code = tokens.issue_display(ADMIN, "screen:overview")
    late, late_code = tokens.issue_display(ADMIN, "screen:overview-2")
    assert tokens.pair(code) is not None
    assert tokens.pair(code, address="10.0.0.66") is None
    fail = audit_rows(idb)[-1]
    assert (fail["event"], fail["result"], fail["actor"], fail["address"]) == ("wall_pair", "fail", "anonymous",
                                                                               "10.0.0.66")
    assert fail["reason"] == "unknown or already used code"
    clock.advance(hours=24, seconds=1)
    assert tokens.pair(late_code) is None
    assert audit_rows(idb)[-1]["reason"] == "code expired" and audit_rows(idb)[-1]["object"] == f"token:{late.id}"
    for bad in ("", "ABCDE", "ABCDE-FGHJ0", "x" * 5000, None):  # malformed codes: refused and audited too
        assert tokens.pair(bad) is None  # type: ignore[arg-type]
    assert sum(r["result"] == "fail" for r in audit_rows(idb)) == 7
    assert {t.id: t.paired for t in tokens.list("display")} == {first.id: True, late.id: False}


def test_wall_cookie_checks(tokens: Tokens, idb: Engine) -> None:
    info, code = tokens.issue_display(ADMIN, "playlist:leadership")
    _, cookie = tokens.pair(code)
    tid, secret = cookie.split(".")
    other = "A" if secret[0] != "A" else "B"
    for bad in ("", "abc", "x.y.z", f"{tid}.{other}{secret[1:]}", f"{tid}.{secret}.x", f"{tid}.{secret}\n",
                f"{'0' * 16}.{secret}", f"{tid}.{secret}" + "a" * 10_000, f"{tid.upper()}.{secret}", None):
        assert tokens.verify_wall(bad) is None, bad
    assert tokens.verify_wall(cookie) is not None
    assert tokens.revoked_since([tid, "f" * 16]) == {"f" * 16}  # an unknown id no longer authenticates either

    revoked = tokens.revoke(ADMIN, tid, address="10.0.0.5")
    assert revoked.revoked_at == T0 and tokens.verify_wall(cookie) is None
    assert tokens.revoked_since([tid]) == {tid} and tokens.revoked_since([]) == set()
    assert tokens.revoke(ADMIN, tid).revoked_at == T0  # twice is fine, and audited once
    assert [r["event"] for r in audit_rows(idb)].count("token_revoke") == 1
    with pytest.raises(TokenError, match=r"^unknown token 'nope'$"):
        tokens.revoke(ADMIN, "nope")

    unpaired, code2 = tokens.issue_display(ADMIN, "screen:lobby")
    tokens.revoke(ADMIN, unpaired.id)
    assert tokens.pair(code2) is None and audit_rows(idb)[-1]["reason"] == "token revoked"


def test_concurrent_pairing_has_one_winner(tokens: Tokens, idb: Engine) -> None:
    _, code = tokens.issue_display(ADMIN, "screen:overview")
    results: list[object] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        results.append(tokens.pair(code))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 4 and sum(r is not None for r in results) == 1
    pairs = [r["result"] for r in audit_rows(idb) if r["event"] == "wall_pair"]
    assert sorted(pairs) == ["fail", "fail", "fail", "ok"]
    assert chain_problems(idb) == []


def test_source_rotation_overlap_and_revocation(tokens: Tokens, idb: Engine, clock: Clock) -> None:
    old, old_bearer = tokens.issue_source(ADMIN, "canteen", "pos")
    clock.advance(hours=1)
    new, new_bearer = tokens.rotate_source(ADMIN, old.id, overlap=dt.timedelta(hours=2))
    assert (new.scope, new.label, new.expires_at) == ("system:canteen", "pos", None) and new.id != old.id
    assert tokens.verify_source(old_bearer).expires_at == T0 + dt.timedelta(hours=3)
    assert tokens.verify_source(new_bearer) == new
    with pytest.raises(TokenError, match=rf"^token {old.id} was already rotated; rotate its successor$"):
        tokens.rotate_source(ADMIN, old.id)
    clock.advance(hours=2, seconds=-1)
    assert tokens.verify_source(old_bearer) is not None and tokens.revoked_since([old.id, new.id]) == set()
    clock.advance(seconds=1)  # the overlap's end
    assert tokens.verify_source(old_bearer) is None and tokens.verify_source(new_bearer) == new
    assert tokens.revoked_since([old.id, new.id]) == {old.id}

    tokens.revoke(ADMIN, new.id)
    assert tokens.verify_source(new_bearer) is None
    with pytest.raises(TokenError, match=rf"^token {new.id} is revoked; issue a new one$"):
        tokens.rotate_source(ADMIN, new.id)
    with pytest.raises(TokenError, match=r"^unknown source token 'nope'$"):
        tokens.rotate_source(ADMIN, "nope")
    rot = [r for r in audit_rows(idb) if r["event"] == "token_rotate"]
    assert len(rot) == 1 and rot[0]["object"] == f"token:{old.id}" and new.id in rot[0]["detail"]


def test_kinds_do_not_cross(tokens: Tokens) -> None:
    wall, code = tokens.issue_display(ADMIN, "screen:overview")
    _, cookie = tokens.pair(code)
    src, bearer = tokens.issue_source(ADMIN, "access_control")
    wall_id, wall_secret = cookie.split(".")
    src_id, src_secret = split_bearer(bearer)
    assert tokens.verify_source(cookie) is None and tokens.verify_source(f"cc_{wall_id}_{wall_secret}") is None
    assert tokens.verify_wall(bearer) is None and tokens.verify_wall(f"{src_id}.{src_secret}") is None
    assert tokens.verify_wall(cookie).id == wall.id and tokens.verify_source(bearer).id == src.id


def test_validation_messages(tokens: Tokens, idb: Engine) -> None:
    cases = [
        (lambda: tokens.issue_display(ADMIN, "x"), "scope 'x': expected playlist:NAME or screen:ID"),
        (lambda: tokens.issue_display(ADMIN, "system:canteen"),
         "scope 'system:canteen': expected playlist:NAME or screen:ID"),
        (lambda: tokens.issue_display(ADMIN, "screen:Overview"),
         "scope 'screen:Overview': expected playlist:NAME or screen:ID"),
        (lambda: tokens.issue_display(ADMIN, "screen:" + "a" * 65),
         f"scope {('screen:' + 'a' * 65)[:80]!r}: expected playlist:NAME or screen:ID"),
        (lambda: tokens.issue_source(ADMIN, "Canteen"),
         "system 'Canteen': expected a lowercase letter, then up to 31 lowercase letters, digits or '_'"),
        (lambda: tokens.issue_source(ADMIN, "canteen\n"),
         "system 'canteen\\n': expected a lowercase letter, then up to 31 lowercase letters, digits or '_'"),
        (lambda: tokens.issue_source(ADMIN, "canteen", "l" * 129), "label: at most 128 characters"),
        (lambda: tokens.issue_source("", "canteen"), "actor: expected 1 to 64 characters"),
        (lambda: tokens.list("wall"), "kind 'wall': expected display or source"),
    ]
    for call, message in cases:
        with pytest.raises(TokenError) as err:
            call()
        assert str(err.value) == message
    assert tokens.issue_display(ADMIN, "screen:" + "a" * 64)[0].scope == "screen:" + "a" * 64
    assert tokens.issue_source(ADMIN, "b" * 32)[0].scope == "system:" + "b" * 32
    assert len(tokens.list()) == 2 and len(audit_rows(idb)) == 2  # refusals wrote nothing


def test_audit_has_every_action_and_no_secret(tokens: Tokens, idb: Engine, clock: Clock) -> None:
    wall, code = tokens.issue_display(ADMIN, "playlist:leadership", address="10.0.0.5")
    _, cookie = tokens.pair(code, address="10.0.0.9")
    tokens.pair(code)
    src, bearer = tokens.issue_source(ADMIN, "canteen")
    new, new_bearer = tokens.rotate_source(ADMIN, src.id)
    tokens.revoke(ADMIN, wall.id)
    tokens.revoke(ADMIN, new.id)
    rows = audit_rows(idb)
    assert [(r["event"], r["result"], r["object"]) for r in rows] == [
        ("token_issue", "ok", f"token:{wall.id}"), ("wall_pair", "ok", f"token:{wall.id}"),
        ("wall_pair", "fail", ""), ("token_issue", "ok", f"token:{src.id}"), ("token_rotate", "ok", f"token:{src.id}"),
        ("token_revoke", "ok", f"token:{wall.id}"), ("token_revoke", "ok", f"token:{new.id}"),
    ]
    assert rows[1]["actor"] == f"token:{wall.id}" and rows[0]["address"] == "10.0.0.5"
    assert '"kind": "display"' in rows[0]["detail"] and '"scope": "playlist:leadership"' in rows[0]["detail"]
    secrets_seen = [code, code.replace("-", ""), cookie.split(".")[1], split_bearer(bearer)[1],
                    split_bearer(new_bearer)[1]]
    with idb.connect() as conn:
        hashes = [h for row in conn.execute(select(auth_token.c.secret_hash, auth_token.c.pair_code_hash))
                  for h in row if h]
    for row in rows:
        text = " ".join(str(v) for k, v in row.items() if k not in ("hash", "prev_hash"))
        for s in secrets_seen + hashes:
            assert s not in text
    assert chain_problems(idb) == []


# --- request signing (Redis only) ------------------------------------------------------------------------------
NOW = 1_770_000_000.0
SECRET = "s3cr3t-" + "x" * 36
NONCE = "nonce-0123456789abcdef"
BODY = b'{"events":[{"door":"east","at":"2026-03-01T08:00:00Z"}]}'


def check(checker: SignatureChecker, ts: float = NOW, nonce: str = NONCE, body: bytes = BODY,
          signature: str | None = None) -> str | None:
    t = str(int(ts))
    sig = signature if signature is not None else sign(SECRET, "post", "/ingest/canteen", t, nonce, BODY)
    return checker.check(SECRET, "0123456789abcdef", "POST", "/ingest/canteen", t, nonce, body, sig)


def test_signing_string_is_canonical() -> None:
    assert signing_string("post", "/ingest/canteen", "1770000000", NONCE, b"") == (
        b"POST\n/ingest/canteen\n1770000000\n" + NONCE.encode()
        + b"\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert split_bearer("cc_0123456789abcdef_" + "A_-b" * 10) == ("0123456789abcdef", "A_-b" * 10)
    assert split_bearer("cc_0123456789abcdef_short") is None and split_bearer(None) is None


def test_signature_accepted_once(r: redis.Redis) -> None:
    checker = SignatureChecker(r, clock=lambda: NOW)
    assert check(checker) is None
    assert check(checker) == "replayed nonce"
    assert 0 < r.ttl(f"sig:nonce:0123456789abcdef:{NONCE}") <= 600


def test_signature_refusals(r: redis.Redis) -> None:
    checker = SignatureChecker(r, clock=lambda: NOW)
    assert check(checker, ts=NOW - 301) == "timestamp outside the 300 s window"
    assert check(checker, ts=NOW + 301) == "timestamp outside the 300 s window"
    assert check(checker, ts=NOW - 300, nonce="n" * 16) is None
    assert check(checker, nonce="short") == "malformed nonce"
    assert check(checker, nonce="bad nonce with spaces") == "malformed nonce"
    assert check(checker, signature="zz") == "bad signature"
    assert checker.check(SECRET, "t", "POST", "/p", "17e8", NONCE, BODY, "0" * 64) == "malformed timestamp"


def test_bad_signature_does_not_burn_the_nonce(r: redis.Redis) -> None:
    checker = SignatureChecker(r, clock=lambda: NOW)
    assert check(checker, body=BODY + b" ") == "bad signature"  # a changed body
    assert check(checker, signature="0" * 64) == "bad signature"
    assert check(checker) is None  # the genuine request with that nonce still passes
    assert check(checker) == "replayed nonce"
