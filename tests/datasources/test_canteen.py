"""Smart canteen: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from analytics.deltas import Last, Sum, fold
from analytics.metrics import canteen as metrics
from datasources.base import SchemaError
from datasources.canteen import SPEC
from datasources.canteen.schemas import (
    CanteenCameraStatus,
    CanteenOrder,
    CanteenQueue,
    CanteenSample,
    CanteenSettlement,
)
from domain.calendar import default_calendar
from tests.datasources.sim_checks import (
    HOLIDAY,
    MAKEUP,
    SATURDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    compound,
    connector_error,
    load_ratios,
    local_start,
    run,
)

decode = Decoder("2025-03-04T12:00:00+08:00")
ITEMS = [{"dish_id": "D201", "name": "红烧肉", "qty": 1, "price": "12.00"},
         {"dish_id": "D401", "name": "米饭", "qty": 2, "price": "1.00"}]
SETTLEMENT = {"txn_id": "X1", "person_id": "P00001", "unit_id": "U01", "canteen_id": "CT1", "window_id": "CT1-W3",
              "meal": "lunch", "method": "face", "items": ITEMS, "amount": "14.00"}
ORDER = {"order_id": "DC1", "person_id": "P00001", "unit_id": "U01", "canteen_id": "CT1", "meal": "lunch",
         "items": ITEMS, "amount": "14.00", "pickup_at": "2025-03-04T12:10:00+08:00"}
QUEUE = {"canteen_id": "CT1", "window_id": "CT1-W3", "queue_len": 12, "wait_min": 3.4}
CAMERA = {"camera_id": "C-CT1-K1", "canteen_id": "CT1", "online": True, "bitrate_kbps": 2048.0}
SAMPLE = {"sample_id": "LY1", "canteen_id": "CT1", "meal": "lunch", "dish_id": "D201", "dish_name": "红烧肉",
          "weight_g": 150.0, "fridge_temp_c": 3.0, "keep_until": "2025-03-06T12:00:00+08:00", "operator": "李师傅"}


def test_valid_events_decode() -> None:
    ev = decode(CanteenSettlement, SETTLEMENT)
    assert ev.amount == Decimal("14.00") and ev.items[1].qty == 2 and ev.card_no is None and ev.system == "canteen"
    assert decode(CanteenOrder, ORDER).pickup == "dine_in"
    assert decode(CanteenQueue, QUEUE).open is True
    assert decode(CanteenCameraStatus, CAMERA, online=False, bitrate_kbps=None).online is False
    assert decode(CanteenSample, SAMPLE).weight_g == 150.0


@pytest.mark.parametrize(("cls", "body", "changes", "message"), [
    (CanteenSettlement, SETTLEMENT, {"method": "cash"}, "Invalid enum value 'cash' - at `$.method`"),
    (CanteenSettlement, SETTLEMENT, {"meal": "brunch"}, "Invalid enum value 'brunch' - at `$.meal`"),
    (CanteenSettlement, SETTLEMENT, {"amount": "-1.00"}, "amount -1.00 CNY must be at least 0 and below 100000"),
    (CanteenSettlement, SETTLEMENT, {"amount": "100000"}, "amount 100000 CNY must be at least 0 and below 100000"),
    (CanteenSettlement, SETTLEMENT, {"amount": "1.234"}, "amount 1.234 CNY has more than 2 decimals"),
    (CanteenSettlement, SETTLEMENT, {"items": []}, "items must list 1 to 30 dishes, got 0"),
    (CanteenSettlement, SETTLEMENT, {"items": [{**ITEMS[0], "qty": 0}]}, "qty of D201 0 is outside 1..50"),
    (CanteenSettlement, SETTLEMENT, {"items": [{**ITEMS[0], "price": "1000.00"}]},
     "price of D201 1000.00 CNY must be at least 0 and below 1000"),
    (CanteenSettlement, SETTLEMENT, {"person_id": None}, "Expected `str`, got `null` - at `$.person_id`"),
    (CanteenOrder, ORDER, {"pickup": "delivery"}, "Invalid enum value 'delivery' - at `$.pickup`"),
    (CanteenOrder, ORDER, {"pickup_at": "2025-03-04T11:00:00+08:00"},
     "pickup_at must be within 7 days after the order time"),
    (CanteenOrder, ORDER, {"pickup_at": "2025-03-04T12:10:00"}, "pickup_at must carry a time zone"),
    (CanteenQueue, QUEUE, {"queue_len": 501}, "queue_len 501 is outside 0..500"),
    (CanteenQueue, QUEUE, {"queue_len": -1}, "queue_len -1 is outside 0..500"),
    (CanteenQueue, QUEUE, {"wait_min": 601.0}, "wait_min 601.0 min is outside 0..600"),
    (CanteenCameraStatus, CAMERA, {"bitrate_kbps": -5.0}, "bitrate_kbps -5.0 kbps is outside 0..100000"),
    (CanteenSample, SAMPLE, {"weight_g": 0.0}, "weight_g 0.0 g is outside 1..5000"),
    (CanteenSample, SAMPLE, {"fridge_temp_c": 25.0}, "fridge_temp_c 25.0 °C is outside -30..20"),
    (CanteenSample, SAMPLE, {"keep_until": "2025-03-04T11:00:00+08:00"}, "keep_until must be after the sample time"),
    (CanteenSample, SAMPLE, {"ts": "2025-03-04T12:00:00"}, "ts must carry a time zone (ISO 8601 with offset)"),
])
def test_invalid_events_are_rejected(cls: type, body: dict, changes: dict, message: str) -> None:
    assert decode.error(cls, body, **changes) == message


def test_direct_construction_checks_too() -> None:
    """Simulators build events directly: the same rules apply, as SchemaError."""
    ok = decode(CanteenQueue, QUEUE)
    with pytest.raises(SchemaError, match="queue_len 900 is outside 0..500"):
        msgspec.structs.replace(ok, queue_len=900)


def test_windows_must_not_go_back() -> None:
    sim = SPEC.make_simulator(compound(), default_calendar(), seed=1, tz=TZ)
    start = local_start(WORKDAY)
    list(sim.events_between(start, start + dt.timedelta(hours=1)))
    with pytest.raises(ValueError, match="windows must not go back in time"):
        list(sim.events_between(start, start + dt.timedelta(hours=2)))


def _meals_by_hour(day: dt.date, **kw: Any) -> dict[int, int]:
    hours: dict[int, int] = {}
    for e in run(SPEC, day, **kw):
        if isinstance(e, CanteenSettlement):
            h = e.ts.astimezone(TZ).hour
            hours[h] = hours.get(h, 0) + 1
    return hours


def test_rhythm_lunch_peak_and_days_off() -> None:
    work = _meals_by_hour(WORKDAY)
    total = sum(work.values())
    assert 2000 < total < 4000  # about 70 % of ~2,800 staff on site eat lunch, plus breakfast and dinner
    assert work[12] == max(work.values()) and work[11] + work[12] > 0.6 * total
    assert set(work) <= {7, 8, 9, 11, 12, 13, 17, 18, 19}
    for day in (HOLIDAY, SATURDAY):
        assert 0 < sum(_meals_by_hour(day).values()) < 0.1 * total
    assert sum(_meals_by_hour(MAKEUP).values()) > 0.8 * total  # a make-up working day (调休) is a working day


def test_lunch_queues_are_realistic_without_anomalies() -> None:
    queues = [e for e in run(SPEC, WORKDAY, anomaly_p=0.0) if isinstance(e, CanteenQueue)]
    lunch = [e.queue_len for e in queues if e.ts.astimezone(TZ).hour == 12]
    assert max(lunch) >= 3 and max(e.queue_len for e in queues) <= 30
    assert max(e.wait_min for e in queues) < 10


def test_rate_multiplies_people_and_devices() -> None:
    meals, events = load_ratios(SPEC, 5, "canteen.settlement")
    assert 4.5 < meals < 5.5 and 4.5 < events < 5.5


def test_forced_anomalies_appear() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    assert max(e.queue_len for e in events if isinstance(e, CanteenQueue)) > 30
    assert any(e.wait_min > 10 for e in events if isinstance(e, CanteenQueue))
    assert any(not e.online for e in events if isinstance(e, CanteenCameraStatus))
    samples = [e for e in events if isinstance(e, CanteenSample)]
    assert samples and all(e.weight_g < 125 for e in samples)
    normal = [e for e in run(SPEC, WORKDAY, anomaly_p=0.0) if isinstance(e, CanteenSample)]
    assert len(samples) < len(normal) and all(e.weight_g >= 125 for e in normal)


def test_simulated_orders_are_picked_up_and_paid() -> None:
    events = run(SPEC, WORKDAY)
    orders = {e.order_id: e for e in events if isinstance(e, CanteenOrder)}
    paid = {e.order_id: e for e in events if isinstance(e, CanteenSettlement) and e.order_id}
    assert orders and set(paid) == set(orders)
    for oid, order in orders.items():
        assert paid[oid].amount == order.amount and paid[oid].ts > order.ts


def test_connectors_map_json_and_csv_alike() -> None:
    events = assert_connectors_agree(SPEC)
    first = events[0]
    assert isinstance(first, CanteenSettlement)
    assert first.ts == dt.datetime(2025, 3, 4, 12, 1, 2, tzinfo=TZ) and first.seq == 101
    assert first.method == "card" and first.amount == Decimal("13.00") and first.items[0].name == "红烧肉"
    assert [type(e).__name__ for e in events] == ["CanteenSettlement", "CanteenSettlement", "CanteenOrder",
                                                  "CanteenQueue", "CanteenCameraStatus", "CanteenSample"]


@pytest.mark.parametrize(("fmt", "index", "changes", "message"), [
    ("json", 0, {"jyje": None}, "canteen record XF2025030400001: Object missing required field `amount` "
                                "(vendor field jyje)"),
    ("json", 0, {"zffs": "7"}, "canteen record XF2025030400001: field 'zffs': unknown code '7', expected one of "
                               "1, 2, 3"),
    ("csv", 0, {"cp": "D201-红烧肉"}, "canteen record XF2025030400001: field 'cp': 'D201-红烧肉' is not "
                                     "'id:name:qty:price'"),
    ("json", 0, {"jyje": "13.005"}, "canteen record XF2025030400001: amount 13.005 CNY has more than 2 decimals"),
    ("json", 0, {"lx": "ZZ"}, "canteen record XF2025030400001: unknown record type 'ZZ', expected one of XF, DC, PD, "
                              "SP, LY"),
    ("json", 0, {"fssj": "yesterday"}, "canteen record XF2025030400001: time 'yesterday' is not a date-time like "
                                       "'2025-03-03 08:15:00'"),
    ("csv", 3, {"pdrs": "many"}, "canteen record PD2025030400311: Expected `int`, got `str` - at `$.queue_len` "
                                 "(vendor field pdrs)"),
    ("json", 3, {"pdrs": 600}, "canteen record PD2025030400311: queue_len 600 is outside 0..500"),
    ("json", 5, {"bcjz": "2025-03-04 11:00:00"}, "canteen record LY2025030400003: keep_until must be after the "
                                                 "sample time"),
])
def test_connectors_reject_bad_records(fmt: str, index: int, changes: dict, message: str) -> None:
    assert connector_error(SPEC, fmt, index, changes) == message


def test_extractors() -> None:
    settle = decode(CanteenSettlement, SETTLEMENT)
    assert list(metrics.settlement(settle)) == [
        Sum("canteen.meals"), Sum("canteen.meals.lunch"), Sum("canteen.meals.canteen.CT1"),
        Sum("canteen.revenue", 14.0), Sum("canteen.pay.face"),
        Sum("canteen.dish.红烧肉", 1), Sum("canteen.dish.米饭", 2)]
    assert list(metrics.queue(decode(CanteenQueue, QUEUE))) == [
        Last("canteen.queue", "CT1-W3", {"canteen": "CT1", "len": 12, "wait_min": 3.4, "open": True})]
    assert list(metrics.camera(decode(CanteenCameraStatus, CAMERA, online=False))) == [
        Last("canteen.kitchen_camera", "C-CT1-K1", 0)]
    assert list(metrics.order(decode(CanteenOrder, ORDER))) == [Sum("canteen.orders")]
    assert list(metrics.sample(decode(CanteenSample, SAMPLE))) == [Sum("canteen.samples")]


def test_a_simulated_day_folds_into_kpis() -> None:
    events = run(SPEC, WORKDAY)
    deltas = fold(events, TZ)
    day = WORKDAY.strftime("%Y%m%d")
    totals: dict[str, float] = {}
    for (metric, d, _minute), amount in deltas.sums.items():
        assert d == day
        totals[metric] = totals.get(metric, 0.0) + amount
    settlements = [e for e in events if isinstance(e, CanteenSettlement)]
    assert totals["canteen.meals"] == len(settlements)
    assert totals["canteen.meals"] == sum(totals[f"canteen.meals.{m}"] for m in ("breakfast", "lunch", "dinner"))
    assert totals["canteen.meals"] == sum(totals[f"canteen.pay.{m}"] for m in ("card", "face", "tray"))
    assert round(totals["canteen.revenue"], 2) == float(sum(e.amount for e in settlements))
    cameras = [v for (m, _f), (_t, v) in deltas.lasts.items() if m == "canteen.kitchen_camera"]
    assert len(cameras) == 8 and all(v in (0, 1) for v in cameras)
    msgspec.json.encode(deltas.to_wire())  # JSON-serialisable
