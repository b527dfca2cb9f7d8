"""Smart passage: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from analytics.deltas import Last, Level, Sum, fold
from analytics.metrics import passage as metrics
from datasources.passage import SPEC
from datasources.passage.schemas import PassageGate, PassagePerson, PassageVehicle, PassageVisitor
from tests.datasources.sim_checks import (
    HOLIDAY,
    SATURDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    connector_error,
    load_ratios,
    local_start,
    run,
)

decode = Decoder("2025-03-04T09:00:00+08:00")
PERSON = {"gate_id": "GP05", "direction": "in", "method": "face", "person_id": "P00012"}
VEHICLE = {"gate_id": "GV02", "direction": "in", "plate": "鲁AD12345", "plate_color": "green", "vehicle_kind": "staff",
           "person_id": "P00012", "confidence": 0.97}
VISITOR = {"visitor_id": "FK1", "state": "approved", "name": "张伟", "phone": "13912345678",
           "id_card": "37010219800101123X", "host_person_id": "P00345", "host_unit_id": "U11", "purpose": "公务洽谈",
           "visit_start": "2025-03-04T09:30:00+08:00", "visit_end": "2025-03-04T11:30:00+08:00",
           "approver_id": "P00345"}
GATE = {"gate_id": "GP07", "kind": "person", "online": True}


def test_valid_events_decode() -> None:
    assert decode(PassagePerson, PERSON).result == "granted"
    denied = decode(PassagePerson, PERSON, person_id=None, result="denied", reason="unknown_face")
    assert denied.reason == "unknown_face"
    assert decode(PassageVehicle, VEHICLE).plate == "鲁AD12345"
    assert decode(PassageVehicle, VEHICLE, plate="鲁A7K888", vehicle_kind="official", vehicle_id="V001").vehicle_id
    assert decode(PassageVisitor, VISITOR).id_card.endswith("X")
    assert decode(PassageVisitor, VISITOR, state="applied", approver_id=None, plate="鲁A7K888").plate == "鲁A7K888"
    assert decode(PassageGate, GATE).mode == "normal"


@pytest.mark.parametrize(("cls", "body", "changes", "message"), [
    (PassagePerson, PERSON, {"direction": "up"}, "Invalid enum value 'up' - at `$.direction`"),
    (PassagePerson, PERSON, {"method": "palm"}, "Invalid enum value 'palm' - at `$.method`"),
    (PassagePerson, PERSON, {"person_id": None}, "a granted pass needs person_id or visitor_id"),
    (PassagePerson, PERSON, {"visitor_id": "FK1"}, "a pass is by a person or by a visitor, not both"),
    (PassagePerson, PERSON, {"result": "denied"}, "a denied pass needs a reason"),
    (PassagePerson, PERSON, {"reason": "blacklisted"}, "a granted pass has no reason"),
    (PassageVehicle, VEHICLE, {"plate": "AB12345"}, "plate 'AB12345' is not a Chinese plate like '鲁A12345' or "
                                                     "'鲁AD12345'"),
    (PassageVehicle, VEHICLE, {"confidence": 1.2}, "confidence 1.2 is outside 0..1"),
    (PassageVehicle, VEHICLE, {"person_id": None}, "vehicle_kind staff needs person_id"),
    (PassageVehicle, VEHICLE, {"vehicle_kind": "official"}, "vehicle_kind official needs vehicle_id"),
    (PassageVehicle, VEHICLE, {"result": "denied"}, "a denied pass needs a reason and a granted one has none"),
    (PassageVehicle, VEHICLE, {"plate_color": "red"}, "Invalid enum value 'red' - at `$.plate_color`"),
    (PassageVisitor, VISITOR, {"phone": "010-1234567"}, "phone '010-1234567' is not an 11-digit mobile number"),
    (PassageVisitor, VISITOR, {"id_card": "3701021980"}, "id_card must be 18 characters: 17 digits and a digit or X"),
    (PassageVisitor, VISITOR, {"visit_end": "2025-03-04T09:00:00+08:00"}, "visit_end must be after visit_start"),
    (PassageVisitor, VISITOR, {"visit_start": "2025-03-04T09:30:00"},
     "visit_start and visit_end must carry a time zone"),
    (PassageVisitor, VISITOR, {"approver_id": None}, "approver_id is required when state is approved"),
    (PassageVisitor, VISITOR, {"companions": 80}, "companions 80 is outside 0..50"),
    (PassageVisitor, VISITOR, {"name": ""}, "name must be 1 to 40 characters"),
    (PassageGate, GATE, {"mode": "open"}, "Invalid enum value 'open' - at `$.mode`"),
])
def test_invalid_events_are_rejected(cls: type, body: dict, changes: dict, message: str) -> None:
    assert decode.error(cls, body, **changes) == message


def test_rhythm_gate_peaks_and_people_on_site() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=0.0)
    passes = [e for e in events if isinstance(e, PassagePerson) and e.result == "granted"]
    ins = Counter(e.ts.astimezone(TZ).hour for e in passes if e.direction == "in")
    outs = Counter("17:30" <= e.ts.astimezone(TZ).strftime("%H:%M") < "18:30" for e in passes if e.direction == "out")
    assert ins.most_common(1)[0][0] == 8 and ins[8] > 0.5 * sum(ins.values())
    assert outs[True] > outs[False]
    level = 0
    for e in passes:
        level += 1 if e.direction == "in" else -1
        assert level >= 0
        if e.ts.astimezone(TZ).hour == 10:
            assert level > 2000  # most of the ~3,000 staff are in
    assert level == 0  # everyone, visitors included, has left by midnight
    holiday = [e for e in run(SPEC, HOLIDAY) if isinstance(e, PassagePerson)]
    weekend = [e for e in run(SPEC, SATURDAY) if isinstance(e, PassagePerson)]
    assert 0 < len(holiday) < 0.1 * len(passes) and 0 < len(weekend) < 0.1 * len(passes)


def test_vehicles_and_visitors_come_and_go() -> None:
    events = run(SPEC, WORKDAY, days=2, anomaly_p=0.0)
    second = local_start(WORKDAY) + dt.timedelta(days=1)
    cars = Counter((e.plate, e.direction) for e in events if isinstance(e, PassageVehicle))
    assert all(cars[plate, "in"] == cars[plate, "out"] for plate, _ in cars)
    kinds = Counter(e.vehicle_kind for e in events if isinstance(e, PassageVehicle))
    assert kinds["staff"] > 1000 and kinds["visitor"] > 0 and kinds["service"] > 0
    states = {(e.visitor_id, e.state): e for e in events if isinstance(e, PassageVisitor)}
    day2 = [e for e in events if isinstance(e, PassagePerson) and e.visitor_id and e.ts >= second]
    assert day2
    for e in day2:
        applied, approved = states[e.visitor_id, "applied"], states[e.visitor_id, "approved"]
        assert applied.ts < approved.ts < e.ts and approved.approver_id == applied.host_person_id
    rejected = {v for v, s in states if s == "rejected"}
    assert rejected and not rejected & {e.visitor_id for e in events if isinstance(e, PassagePerson)}


def test_rate_multiplies_people_and_devices() -> None:
    passes, events = load_ratios(SPEC, 4, "passage.person")
    assert 3.6 < passes < 4.4 and 3.6 < events < 4.4


def test_forced_anomalies_appear() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    people = [e for e in events if isinstance(e, PassagePerson)]
    assert any(e.result == "granted" and e.direction == "in" and 2 <= e.ts.astimezone(TZ).hour < 5 for e in people)
    assert sum(1 for e in people if e.reason == "unknown_face" and e.person_id is None) >= 5
    assert any(isinstance(e, PassageVehicle) and e.reason == "blacklisted" for e in events)
    assert any(isinstance(e, PassageGate) and e.mode == "locked" and not e.online for e in events)
    quiet = run(SPEC, WORKDAY, anomaly_p=0.0)
    assert not any(isinstance(e, PassageGate) and not e.online for e in quiet)
    assert not any(isinstance(e, PassageVehicle) and e.result == "denied" for e in quiet)


def test_connectors_map_json_and_csv_alike() -> None:
    events = assert_connectors_agree(SPEC)
    face, card, guest, stranger, car, banned, visitor, gate = events
    assert face.ts == dt.datetime(2025, 3, 4, 8, 21, 7, tzinfo=TZ) and face.method == "face" and face.seq == 90001
    assert card.card_no == "1234567890" and guest.visitor_id == "FK2025030400017" and guest.method == "qr"
    assert (stranger.result, stranger.reason) == ("denied", "unknown_face")
    assert (car.plate_color, car.vehicle_kind, car.confidence) == ("green", "staff", 0.975)
    assert (banned.result, banned.reason) == ("denied", "blacklisted")
    assert visitor.visit_start == dt.datetime(2025, 3, 4, 9, 30, tzinfo=TZ) and visitor.companions == 1
    assert (gate.online, gate.mode) == (False, "locked")


@pytest.mark.parametrize(("fmt", "index", "changes", "message"), [
    ("json", 0, {"inOut": "2"}, "passage record 8f1c2a90-0001: field 'inOut': unknown code '2', expected one of 0, 1"),
    ("json", 0, {"personId": None}, "passage record 8f1c2a90-0001: a granted pass needs person_id or visitor_id"),
    ("json", 4, {"plateNo": "AB123"}, "passage record 8f1c2a90-0005: plate 'AB123' is not a Chinese plate like "
                                      "'鲁A12345' or '鲁AD12345'"),
    ("csv", 4, {"confidence": "high"}, "passage record 8f1c2a90-0005: field 'confidence': 'high' is not a percentage"),
    ("csv", 6, {"phoneNo": "12345"}, "passage record 8f1c2a90-0007: phone '12345' is not an 11-digit mobile number"),
    ("json", 6, {"endTime": "2025-03-04 09:00:00"}, "passage record 8f1c2a90-0007: visit_end must be after "
                                                    "visit_start"),
    ("json", 7, {"workMode": "7"}, "passage record 8f1c2a90-0008: field 'workMode': unknown code '7', expected one "
                                   "of 0, 1, 2"),
])
def test_connectors_reject_bad_records(fmt: str, index: int, changes: dict, message: str) -> None:
    assert connector_error(SPEC, fmt, index, changes) == message


def test_extractors() -> None:
    assert list(metrics.person(decode(PassagePerson, PERSON))) == [
        Sum("passage.method.face"), Sum("passage.in"), Level("passage.on_site", 1)]
    assert list(metrics.person(decode(PassagePerson, PERSON, person_id=None, visitor_id="FK1", direction="out",
                                      method="qr"))) == [
        Sum("passage.method.qr"), Sum("passage.out"), Level("passage.on_site", -1),
        Level("passage.visitors_on_site", -1)]
    assert list(metrics.person(decode(PassagePerson, PERSON, person_id=None, visitor_id="FK1"))) == [
        Sum("passage.method.face"), Sum("passage.in"), Level("passage.on_site", 1),
        Level("passage.visitors_on_site", 1), Sum("passage.visitors")]
    assert list(metrics.person(decode(PassagePerson, PERSON, result="denied", reason="expired_pass"))) == [
        Sum("passage.denied")]
    assert list(metrics.vehicle(decode(PassageVehicle, VEHICLE, direction="out"))) == [
        Sum("passage.vehicles_out"), Level("passage.vehicles_on_site", -1)]
    assert list(metrics.visitor(decode(PassageVisitor, VISITOR))) == [Sum("passage.visitor.approved")]
    assert list(metrics.gate(decode(PassageGate, GATE, online=False))) == [Last("passage.gate_online", "GP07", 0)]


def test_a_simulated_day_folds_into_levels_that_return_to_zero() -> None:
    deltas = fold(run(SPEC, WORKDAY, anomaly_p=0.0), TZ)
    assert deltas.levels["passage.on_site"] == 0
    assert deltas.levels["passage.visitors_on_site"] == 0
    assert deltas.levels["passage.vehicles_on_site"] == 0
    visitors = sum(a for (m, _d, _mi), a in deltas.sums.items() if m == "passage.visitors")
    assert 100 < visitors < 200
