"""Kindergarten: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.deltas import Last, Level, Sum, fold
from analytics.metrics import kindergarten as metrics
from datasources.kindergarten import SPEC
from datasources.kindergarten import (
    KindergartenCheckIn,
    KindergartenCheckOut,
    KindergartenHealthCheck,
    KindergartenTerminal,
)
from tests.datasources.sim_checks import (
    HOLIDAY,
    MAKEUP,
    SATURDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    assert_round_trip,
    compound,
    connector_error,
    count,
    load_ratios,
    local_start,
    run,
)

CASES = {
    KindergartenCheckIn: {"child_id": "K0001", "class_id": "小1班", "guardian_id": "P00321", "guardian_name": "李娜",
                          "guardian_phone": "13812345678", "relation": "mother", "temperature_c": 36.6},
    KindergartenCheckOut: {"child_id": "K0001", "class_id": "小1班", "pickup_id": "P00321", "pickup_name": "李娜",
                           "pickup_phone": "13812345678", "relation": "mother", "registered": True},
    KindergartenHealthCheck: {"child_id": "K0001", "class_id": "小1班", "period": "noon", "temperature_c": 36.5},
    KindergartenTerminal: {"terminal_id": "KG-GATE-1", "kind": "gate", "online": True},
}
decode = Decoder("2025-03-04T08:00:00+08:00", CASES)


@pytest.mark.parametrize("cls", list(CASES))
def test_valid_examples_decode(cls: type) -> None:
    assert decode(cls).schema_name().startswith("kindergarten.")


@pytest.mark.parametrize(("cls", "change", "message"), [
    (KindergartenCheckIn, {"temperature_c": 45.0}, "temperature_c 45.0 °C is outside 34..42"),
    (KindergartenCheckIn, {"temperature_c": 38.1}, "temperature_c 38.1 °C is a fever (>= 37.3) but health is 'normal'"),
    (KindergartenCheckIn, {"relation": "uncle"}, "Invalid enum value 'uncle' - at `$.relation`"),
    (KindergartenCheckOut, {"pickup_id": None}, "a registered pick-up needs pickup_id (the guardian's registration)"),
    (KindergartenCheckOut, {"late_min": -5.0}, "late_min -5.0 min is outside 0..1440"),
    (KindergartenCheckOut, {"registered": "yes"}, "Expected `bool`, got `str` - at `$.registered`"),
    (KindergartenHealthCheck, {"period": "night"}, "Invalid enum value 'night' - at `$.period`"),
    (KindergartenTerminal, {"kind": "camera"}, "Invalid enum value 'camera' - at `$.kind`"),
])
def test_invalid_examples_explain_themselves(cls: type, change: dict, message: str) -> None:
    assert decode.error(cls, **change) == message


def test_open_on_working_days_only() -> None:
    work, saturday, holiday, makeup = (count(run(SPEC, d)) for d in (WORKDAY, SATURDAY, HOLIDAY, MAKEUP))
    assert 160 <= work["kindergarten.check_in"] <= 200
    assert saturday["kindergarten.check_in"] == holiday["kindergarten.check_in"] == 0
    assert makeup["kindergarten.check_in"] > 150
    assert 1500 <= sum(work.values()) <= 30_000


def test_every_child_goes_home_with_a_registered_guardian() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=0.0)
    assert_round_trip(events + run(SPEC, dt.date(2025, 3, 3), anomaly_p=0.0, seed=11), SPEC)
    ins = [e for e in events if isinstance(e, KindergartenCheckIn)]
    outs = [e for e in events if isinstance(e, KindergartenCheckOut)]
    assert sorted(e.child_id for e in ins) == sorted(e.child_id for e in outs)
    assert all(e.registered and e.late_min == 0 for e in outs)
    guardians = {c.id: set(c.guardian_ids) | {f"{c.id}-G3"} for c in compound().children}
    assert all(e.pickup_id in guardians[e.child_id] for e in outs)
    start = local_start(WORKDAY)
    assert all(start + dt.timedelta(hours=7) <= e.ts < start + dt.timedelta(hours=9) for e in ins)
    assert all(e.ts < start + dt.timedelta(hours=18) for e in outs)
    assert fold(events, TZ).levels["kindergarten.present"] == 0


def test_rate_multiplies_visits() -> None:
    check_ins, _events = load_ratios(SPEC, 20, "kindergarten.check_in")
    assert 18 <= check_ins <= 22


def test_anomalies_late_and_unregistered_pickups() -> None:
    outs = [e for e in run(SPEC, WORKDAY, anomaly_p=1.0) if isinstance(e, KindergartenCheckOut)]
    late = [e for e in outs if e.late_min > 0]
    strangers = [e for e in outs if not e.registered]
    assert len(late) == 1 and late[0].late_min >= 30
    assert late[0].ts >= local_start(WORKDAY) + dt.timedelta(hours=18, minutes=30)
    assert len(strangers) == 1 and strangers[0].pickup_id is None and strangers[0].pickup_phone.isdigit()


def test_connectors_map_vendor_records() -> None:
    in_ok, in_fever, sent_home, noon, stranger, terminal = assert_connectors_agree(SPEC)
    assert (in_ok.relation, in_ok.temperature_c, in_ok.health) == ("mother", 36.6, "normal")
    assert in_fever.health == "fever" and sent_home.reason == "sick" and sent_home.registered
    assert noon.period == "noon"
    assert (stranger.registered, stranger.pickup_id, stranger.late_min) == (False, None, 42.0)
    assert terminal.kind == "gate" and terminal.online


@pytest.mark.parametrize(("index", "change", "message"), [
    (0, {"tw": 36.9, "jkzt": "XX"}, "kindergarten record KG20250304001: field 'jkzt': unknown code 'XX', expected "
                                    "one of ZC, GC, FR"),
    (0, {"tw": 38.0}, "kindergarten record KG20250304001: temperature_c 38.0 °C is a fever (>= 37.3) but health "
                      "is 'normal'"),
    (4, {"sfdj": "1"}, "kindergarten record KG20250304005: a registered pick-up needs pickup_id (the guardian's "
                       "registration)"),
    (0, {"sj": ""}, "kindergarten record KG20250304001: missing field 'sj'"),
])
def test_connector_errors(index: int, change: dict, message: str) -> None:
    assert connector_error(SPEC, "json", index, change) == message


def test_extractors_count_without_names() -> None:
    assert list(metrics.check_in(decode(KindergartenCheckIn))) == [
        Level("kindergarten.present", 1), Sum("kindergarten.check_ins")]
    assert list(metrics.check_in(decode(KindergartenCheckIn, temperature_c=38.0, health="fever")))[-1] == \
        Sum("kindergarten.fevers")
    assert list(metrics.check_out(decode(KindergartenCheckOut))) == [
        Level("kindergarten.present", -1), Sum("kindergarten.check_outs")]
    stranger = decode(KindergartenCheckOut, pickup_id=None, registered=False, late_min=42.0)
    assert list(metrics.check_out(stranger)) == [
        Level("kindergarten.present", -1), Sum("kindergarten.check_outs"), Sum("kindergarten.late_pickups"),
        Sum("kindergarten.overdue_pickups"), Sum("kindergarten.unregistered_pickups")]
    assert list(metrics.health_check(decode(KindergartenHealthCheck))) == []
    assert list(metrics.terminal(decode(KindergartenTerminal))) == [Last("kindergarten.terminal_online",
                                                                         "KG-GATE-1", 1)]
    events = run(SPEC, WORKDAY)
    wire = str(fold(events, TZ).to_wire())
    personal = {e.guardian_phone for e in events if isinstance(e, KindergartenCheckIn)} | \
        {e.pickup_name for e in events if isinstance(e, KindergartenCheckOut)}
    assert personal and not any(p in wire for p in personal)
