"""Property management: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import typing
from collections import defaultdict

import pytest

from analytics.deltas import Level, Sum, fold
from analytics.metrics import property as metrics
from datasources.property import SPEC
from datasources.property import (
    Category,
    PropertyOrderAccepted,
    PropertyOrderCreated,
    PropertyOrderDispatched,
    PropertyOrderDone,
    PropertyOrderRated,
    PropertyPatrol,
)
from tests.datasources.sim_checks import (
    SATURDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    assert_round_trip,
    connector_error,
    count,
    load_ratios,
    run,
)

CASES = {
    PropertyOrderCreated: {"order_id": "WO1", "category": "repair", "priority": "urgent", "building_id": "B03",
                           "floor": 6, "room_id": "B03-0604", "requester_id": "P00123", "requester_name": "王伟",
                           "requester_phone": "13912345678", "unit_id": "U03", "channel": "phone",
                           "description": "空调不制冷", "sla_accept_min": 15, "sla_done_min": 120},
    PropertyOrderDispatched: {"order_id": "WO1", "category": "repair", "assignee_id": "WY007",
                              "assignee_name": "张强"},
    PropertyOrderAccepted: {"order_id": "WO1", "category": "repair", "assignee_id": "WY007", "wait_min": 8.5,
                            "sla_accept_min": 15},
    PropertyOrderDone: {"order_id": "WO1", "category": "repair", "priority": "urgent", "assignee_id": "WY007",
                        "duration_min": 150.0, "sla_done_min": 120},
    PropertyOrderRated: {"order_id": "WO1", "category": "repair", "satisfaction": 4},
    PropertyPatrol: {"checkpoint_id": "B03-CP04", "building_id": "B03", "floor": 4, "staff_id": "BA03"},
}
decode = Decoder("2025-03-04T09:00:00+08:00", CASES)


@pytest.mark.parametrize("cls", list(CASES))
def test_valid_examples_decode(cls: type) -> None:
    assert decode(cls).schema_name().startswith("property.")


@pytest.mark.parametrize(("cls", "change", "message"), [
    (PropertyOrderCreated, {"category": "gardening"}, "Invalid enum value 'gardening' - at `$.category`"),
    (PropertyOrderCreated, {"sla_done_min": 10}, "sla_done_min 10 is shorter than sla_accept_min 15"),
    (PropertyOrderCreated, {"sla_accept_min": 0}, "sla_accept_min 0 min is outside 1..10080"),
    (PropertyOrderCreated, {"requester_phone": "call me"}, "requester_phone 'call me' must be digits (and dashes)"),
    (PropertyOrderCreated, {"requester_name": None}, "Expected `str`, got `null` - at `$.requester_name`"),
    (PropertyOrderAccepted, {"wait_min": -2.0}, "wait_min -2.0 min is outside 0..43200"),
    (PropertyOrderDone, {"priority": "asap"}, "Invalid enum value 'asap' - at `$.priority`"),
    (PropertyOrderRated, {"satisfaction": 6}, "satisfaction must be 1 to 5, got 6"),
    (PropertyOrderRated, {"satisfaction": 0}, "satisfaction must be 1 to 5, got 0"),
    (PropertyPatrol, {"result": "abnormal"}, "an abnormal patrol result needs a note"),
])
def test_invalid_examples_explain_themselves(cls: type, change: dict, message: str) -> None:
    assert decode.error(cls, **change) == message


def test_orders_go_through_their_states_in_order() -> None:
    events = run(SPEC, WORKDAY, days=3, anomaly_p=1.0)
    assert_round_trip(events, SPEC)
    steps: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if not isinstance(e, PropertyPatrol):
            steps[e.order_id].append(e.schema_name().split(".")[1])
    first_day = [o for o in steps if o.startswith("WO20250304")]
    assert len(first_day) >= 40
    for order in first_day:
        assert steps[order][:4] == ["order_created", "order_dispatched", "order_accepted", "order_done"]
        assert steps[order][4:] in ([], ["order_rated"])
    created = {e.order_id: e for e in events if isinstance(e, PropertyOrderCreated)}
    done = [e for e in events if isinstance(e, PropertyOrderDone) and e.order_id in created]
    on_time = sum(e.duration_min <= e.sla_done_min for e in done) / len(done)
    assert 0.8 <= on_time < 1.0


def test_rhythm_working_day_against_weekend() -> None:
    work, weekend = count(run(SPEC, WORKDAY)), count(run(SPEC, SATURDAY))
    assert 50 <= work["property.order_created"] <= 120
    assert weekend["property.order_created"] < work["property.order_created"] / 4
    assert work["property.patrol"] == weekend["property.patrol"] == 2880
    assert 2000 <= sum(work.values()) <= 30_000


def test_rate_multiplies_orders() -> None:
    orders, events = load_ratios(SPEC, 20, "property.order_created")
    assert 15 <= orders <= 25 and 15 <= events <= 25


def test_anomaly_urgent_repair_misses_its_sla() -> None:
    events = run(SPEC, WORKDAY, days=2, anomaly_p=1.0)
    late = [e for e in events if getattr(e, "order_id", "").endswith("9999")]
    created, done = late[0], next(e for e in late if isinstance(e, PropertyOrderDone))
    accepted = next(e for e in late if isinstance(e, PropertyOrderAccepted))
    assert (created.category, created.priority, created.sla_accept_min, created.sla_done_min) == \
        ("repair", "urgent", 15, 120)
    assert accepted.wait_min > 15 and done.duration_min > 120
    assert not any(getattr(e, "order_id", "").endswith("9999") for e in run(SPEC, WORKDAY, anomaly_p=0.0))


def test_requester_personal_data_is_carried() -> None:
    created = next(e for e in run(SPEC, WORKDAY) if isinstance(e, PropertyOrderCreated))
    assert created.requester_phone.isdigit() and len(created.requester_phone) == 11 and created.requester_name


def test_connectors_map_vendor_records() -> None:
    created, dispatched, accepted, done, rated, patrol = assert_connectors_agree(SPEC)
    assert (created.category, created.priority, created.channel, created.sla_accept_min) == \
        ("repair", "urgent", "phone", 15)
    assert created.requester_phone == "13912345678" and created.ts.hour == 1
    assert dispatched.assignee_name == "张强" and accepted.wait_min == 8.8 and done.duration_min == 85.8
    assert rated.satisfaction == 5 and rated.comment == ""
    assert patrol.result == "abnormal" and patrol.note == "消防通道堆放杂物"


@pytest.mark.parametrize(("index", "change", "message"), [
    (0, {"gdlb": "LH"}, "property record R202503040001: field 'gdlb': unknown code 'LH', expected one of "
                        "WX, BJ, SD, HW"),
    (0, {"bxrdh": ""}, "property record R202503040001: Object missing required field `requester_phone` "
                       "(vendor field bxrdh)"),
    (4, {"myd": 9}, "property record R202503040005: satisfaction must be 1 to 5, got 9"),
    (0, {"jlid": None}, "property record ?: missing field 'jlid'"),
])
def test_connector_errors(index: int, change: dict, message: str) -> None:
    assert connector_error(SPEC, "json", index, change) == message


def test_metric_vocabulary_matches_schema() -> None:
    assert set(metrics.CATEGORIES) == set(typing.get_args(Category))


def test_extractors() -> None:
    assert list(metrics.order_created(decode(PropertyOrderCreated))) == [
        Sum("property.orders_created"), Sum("property.created.repair"), Level("property.orders_open", 1),
        Level("property.status.pending", 1), Level("property.urgent_open", 1)]
    assert list(metrics.order_dispatched(decode(PropertyOrderDispatched))) == [
        Level("property.status.pending", -1), Level("property.status.dispatched", 1)]
    assert list(metrics.order_accepted(decode(PropertyOrderAccepted))) == [
        Level("property.status.dispatched", -1), Level("property.status.in_progress", 1),
        Sum("property.orders_accepted"), Sum("property.orders_accepted_on_time")]
    assert list(metrics.order_done(decode(PropertyOrderDone))) == [
        Sum("property.orders_done"), Sum("property.done.repair"), Level("property.orders_open", -1),
        Level("property.status.in_progress", -1), Level("property.urgent_open", -1)]  # 150 min > 120: late
    assert list(metrics.order_rated(decode(PropertyOrderRated))) == [
        Sum("property.satisfaction_sum", 4), Sum("property.ratings")]
    assert list(metrics.patrol(decode(PropertyPatrol))) == [Sum("property.patrols")]


def test_status_levels_add_up_over_simulated_days() -> None:
    deltas = fold(run(SPEC, WORKDAY, days=3), TZ)
    levels = deltas.levels
    assert all(v >= 0 for v in levels.values())
    parts = sum(levels.get(f"property.status.{s}", 0) for s in ("pending", "dispatched", "in_progress"))
    assert parts == levels.get("property.orders_open", 0)
