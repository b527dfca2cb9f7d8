"""Producer: valid events reach their stream; everything else reaches the dead-letter stream with a reason."""

from __future__ import annotations

import datetime as dt
import json

import msgspec
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codec import DEAD_LETTER, Codec
from streams.codec import stream_of
from streams.producer import Accepted, Producer, Refused, Rejected, Unavailable
from tests.streams.schemas import Gate, Meal, gate, meal

NOW = dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)
CODEC = Codec([Meal, Gate])


def producer(r: redis.Redis) -> Producer:
    return Producer(r, CODEC, clock=lambda: NOW)


def good(**over: object) -> dict:
    doc = {"schema": "tcant.meal", "source": "t.cant", "ts": "2026-11-25T12:00:00+08:00",
           "key": "0190aabbccddeeff0011223344556677", "seq": 1, "person_id": "P00001", "amount": "12.50"}
    doc.update(over)
    return doc


def test_valid_event_is_accepted_into_its_system_stream(r: redis.Redis) -> None:
    res = producer(r).submit_raw(json.dumps(good()), origin="test")
    assert isinstance(res, Accepted) and res.stream == "ev:tcant"
    (entry_id, fields), = r.xrange("ev:tcant")
    assert entry_id.decode() == res.id
    assert msgspec.json.decode(fields[b"e"])["amount"] == 12.5
    assert r.xlen(DEAD_LETTER) == 0


@pytest.mark.parametrize(("payload", "reason"), [
    (json.dumps(good(seq="x")), "Expected `int`, got `str` - at `$.seq`"),
    (json.dumps({k: v for k, v in good().items() if k != "person_id"}), "Object missing required field `person_id`"),
    (json.dumps(good(schema="nope.thing")), "unknown schema 'nope.thing'; known systems: tcant, tgate"),
    (json.dumps(good(extra=1)), "Object contains unknown field `extra`"),
    (json.dumps(good(amount="-3")), "amount must be between 0 and 100000 CNY, got -3"),
    (json.dumps(good(ts="2026-11-25T12:00:00")), "ts must carry a time zone (ISO 8601 with offset)"),
    (json.dumps(good(ts="2027-01-01T00:00:00+08:00")), "s in the future (limit 300 s)"),
    (json.dumps(good(ts="2020-01-01T00:00:00+08:00")), "days in the past (limit 30 days)"),
    ('{"schema": "tcant.meal", "amount": NaN}', "JSON is malformed"),
    (json.dumps(good(method="cash")), "Invalid enum value 'cash' - at `$.method`"),
    (b"\xff\xfe{}", "payload is not UTF-8 (byte 0)"),
    ("x" * 70_000, "payload is 70000 bytes, limit 65536"),
    ("[1, 2]", "Expected `object`, got `array`"),
])
def test_bad_input_is_dead_lettered_with_its_reason(r: redis.Redis, payload: str | bytes, reason: str) -> None:
    res = producer(r).submit_raw(payload, origin="ingest:test")
    assert isinstance(res, Rejected)
    assert reason in res.reason
    (entry_id, fields), = r.xrange(DEAD_LETTER)
    assert entry_id.decode() == res.dead_id
    assert reason in fields[b"reason"].decode()
    assert fields[b"origin"] == b"ingest:test"
    raw = payload if isinstance(payload, bytes) else payload.encode()
    assert fields[b"raw"] == raw
    assert r.xlen("ev:tcant") == 0


def test_infinite_float_is_rejected(r: redis.Redis) -> None:
    doc = {"schema": "tgate.pass", "source": "g", "ts": "2026-11-25T12:00:00+08:00", "key": "k", "seq": 1,
           "gate_id": "GP01", "direction": "in", "queue": 1e999}
    res = producer(r).submit_raw(json.dumps(doc).replace("Infinity", "1e999"), origin="t")
    assert isinstance(res, Rejected) and res.reason == "Number out of range - at `$.queue`"
    res = producer(r).submit_raw(json.dumps(good(amount="Infinity")), origin="t")
    assert isinstance(res, Rejected) and res.reason == "amount must be a finite number, got Infinity"


def test_unreachable_redis_refuses_instead_of_accepting() -> None:
    from streams.redis_conn import connect

    dead = connect("redis://127.0.0.1:1/0")
    p = Producer(dead, CODEC, clock=lambda: NOW)
    with pytest.raises(Unavailable):
        p.submit([meal(NOW, 1)])
    with pytest.raises(Unavailable):
        p.submit_raw(json.dumps(good()), origin="t")


def test_batch_is_written_in_order_in_one_pipeline(r: redis.Redis) -> None:
    out = producer(r).submit_batch([meal(NOW, 1), Refused(b'{"x": 1}', "not an event"), gate(NOW, 1)],
                                   origin="ingest:t", system="tcant")
    assert [type(o) for o in out] == [Accepted, Rejected, Accepted]
    assert out[1].reason == "not an event"
    assert r.xrange(DEAD_LETTER)[0][1][b"origin"] == b"ingest:t"


def test_a_refused_command_mid_batch_reports_exactly_what_redis_confirmed(r: redis.Redis) -> None:
    r.set(stream_of(gate(NOW, 1).system), "not a stream")  # XADD to it fails with WRONGTYPE
    with pytest.raises(Unavailable) as err:
        producer(r).submit_batch([meal(NOW, 1), Refused(b"[]", "no"), gate(NOW, 1), meal(NOW, 2)], origin="t")
    assert [type(o) for o in err.value.confirmed] == [Accepted, Rejected]
    assert "WRONGTYPE" in str(err.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(doc=st.one_of(json_values, st.fixed_dictionaries(
    {}, optional={k: json_values for k in good()}).map(lambda d: {**good(), **d})))
def test_any_json_is_accepted_or_dead_lettered_never_raises(r: redis.Redis, doc: object) -> None:
    before = (r.xlen("ev:tcant") + r.xlen("ev:tgate"), r.xlen(DEAD_LETTER))
    payload = json.dumps(doc, allow_nan=True)
    res = producer(r).submit_raw(payload, origin="prop")
    after = (r.xlen("ev:tcant") + r.xlen("ev:tgate"), r.xlen(DEAD_LETTER))
    if isinstance(res, Accepted):
        assert after == (before[0] + 1, before[1])
    else:
        assert isinstance(res, Rejected) and res.reason
        assert after == (before[0], before[1] + 1)
