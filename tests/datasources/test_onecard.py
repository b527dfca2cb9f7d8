"""One-card platform: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from analytics.deltas import Last, Sum
from analytics.metrics import onecard as metrics
from datasources.onecard import SPEC
from datasources.onecard.schemas import OnecardCard, OnecardDoor, OnecardPayment, OnecardRecharge, OnecardTerminal
from tests.datasources.sim_checks import (
    HOLIDAY,
    TZ,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    connector_error,
    load_ratios,
    run,
)

decode = Decoder("2025-03-04T12:00:00+08:00")
RECHARGE = {"txn_id": "CZ1", "card_no": "1234567890", "person_id": "P00001", "terminal_id": "KIOSK-1",
            "channel": "kiosk", "amount": "200.00", "balance": "245.50"}
PAYMENT = {"txn_id": "XF1", "card_no": "1234567890", "person_id": "P00001", "terminal_id": "POS-SHOP-1",
           "merchant": "shop", "amount": "18.80", "balance": "226.70"}
DOOR = {"card_no": "1234567890", "person_id": "P00001", "door_id": "D-B03-1", "building_id": "B03",
        "result": "granted"}
CARD = {"card_no": "1234567890", "person_id": "P00001", "action": "replace", "new_card_no": "2234567890",
        "terminal_id": "CNT-1"}
TERMINAL = {"terminal_id": "D-B03-1", "kind": "door", "building_id": "B03", "online": True}


def test_valid_events_decode() -> None:
    assert decode(OnecardRecharge, RECHARGE).balance == Decimal("245.50")
    assert decode(OnecardPayment, PAYMENT, result="insufficient").result == "insufficient"
    assert decode(OnecardDoor, DOOR).reason is None
    assert decode(OnecardDoor, DOOR, person_id=None, result="denied", reason="unknown_card").person_id is None
    assert decode(OnecardCard, CARD, action="loss", new_card_no=None).action == "loss"
    assert decode(OnecardTerminal, TERMINAL).pending == 0


@pytest.mark.parametrize(("cls", "body", "changes", "message"), [
    (OnecardRecharge, RECHARGE, {"amount": "0.00"}, "amount of a recharge must be above 0"),
    (OnecardRecharge, RECHARGE, {"channel": "cash"}, "Invalid enum value 'cash' - at `$.channel`"),
    (OnecardRecharge, RECHARGE, {"balance": "1000000.00"},
     "balance 1000000.00 CNY must be at least 0 and below 1000000"),
    (OnecardRecharge, RECHARGE, {"card_no": "12-34"}, "card_no '12-34' must be 6 to 20 digits"),
    (OnecardPayment, PAYMENT, {"amount": "-5"}, "amount -5 CNY must be at least 0 and below 100000"),
    (OnecardPayment, PAYMENT, {"merchant": "canteen"}, "Invalid enum value 'canteen' - at `$.merchant`"),
    (OnecardPayment, PAYMENT, {"result": "declined"}, "Invalid enum value 'declined' - at `$.result`"),
    (OnecardDoor, DOOR, {"result": "denied"}, "a denied swipe needs a reason"),
    (OnecardDoor, DOOR, {"reason": "expired"}, "a granted swipe needs person_id and no reason"),
    (OnecardDoor, DOOR, {"person_id": None}, "a granted swipe needs person_id and no reason"),
    (OnecardCard, CARD, {"new_card_no": None}, "a replacement needs new_card_no"),
    (OnecardCard, CARD, {"new_card_no": "1234567890"}, "new_card_no must differ from card_no"),
    (OnecardCard, CARD, {"action": "freeze"}, "Invalid enum value 'freeze' - at `$.action`"),
    (OnecardTerminal, TERMINAL, {"pending": -1}, "pending -1 is outside 0..100000"),
    (OnecardTerminal, TERMINAL, {"kind": "atm"}, "Invalid enum value 'atm' - at `$.kind`"),
])
def test_invalid_events_are_rejected(cls: type, body: dict, changes: dict, message: str) -> None:
    assert decode.error(cls, body, **changes) == message


def test_rhythm_morning_swipes_and_days_off() -> None:
    swipes = [e for e in run(SPEC, WORKDAY) if isinstance(e, OnecardDoor)]
    by_hour = [sum(1 for e in swipes if e.ts.astimezone(TZ).hour == h) for h in range(24)]
    assert 4000 < len(swipes) < 10000
    assert by_hour.index(max(by_hour)) == 8 and by_hour[3] == 0
    holiday = [e for e in run(SPEC, HOLIDAY) if isinstance(e, OnecardDoor)]
    assert 0 < len(holiday) < 0.1 * len(swipes)


def test_balances_carry_across_days_and_refusals_keep_them() -> None:
    balance: dict[str, Decimal] = {}
    checked = refused = 0
    for e in run(SPEC, WORKDAY, days=3, rate=3):
        if isinstance(e, OnecardPayment | OnecardRecharge):
            before = balance.get(e.person_id)
            if before is not None:
                change = -e.amount if isinstance(e, OnecardPayment) and e.result == "ok" else \
                    e.amount if isinstance(e, OnecardRecharge) else Decimal(0)
                assert e.balance == before + change
                checked += 1
            if isinstance(e, OnecardPayment) and e.result == "insufficient":
                assert e.amount > e.balance
                refused += 1
            balance[e.person_id] = e.balance
    assert checked > 1000 and refused > 0


def test_lost_cards_are_refused_until_replaced() -> None:
    events = run(SPEC, WORKDAY, days=3, rate=3)
    cards = [e for e in events if isinstance(e, OnecardCard)]
    assert {e.action for e in cards} == {"loss", "replace"}
    for loss in (e for e in cards if e.action == "loss"):
        replace = next(e for e in cards if e.action == "replace" and e.person_id == loss.person_id and e.ts > loss.ts)
        for e in events:
            if isinstance(e, OnecardDoor) and e.person_id == loss.person_id and e.ts.date() == loss.ts.date():
                if loss.ts < e.ts < replace.ts:
                    assert (e.card_no, e.reason) == (loss.card_no, "lost_card")
                elif e.ts > replace.ts:
                    assert e.card_no == replace.new_card_no


def test_rate_multiplies_people_and_devices() -> None:
    swipes, events = load_ratios(SPEC, 4, "onecard.door")
    assert 3.6 < swipes < 4.4 and 3.6 < events < 4.4


def test_forced_anomalies_appear() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    denied = [e for e in events if isinstance(e, OnecardDoor) and e.result == "denied"]
    assert sum(1 for e in denied if e.reason == "unknown_card") == 5
    assert any(e.reason == "out_of_hours" and e.ts.astimezone(TZ).hour < 5 for e in denied)
    assert any(not e.online and e.pending > 0 for e in events if isinstance(e, OnecardTerminal))
    quiet = run(SPEC, WORKDAY, anomaly_p=0.0)
    assert not any(isinstance(e, OnecardTerminal) and not e.online for e in quiet)
    assert not any(isinstance(e, OnecardDoor) and e.reason in ("unknown_card", "out_of_hours") for e in quiet)


def test_connectors_map_json_and_csv_alike() -> None:
    events = assert_connectors_agree(SPEC)
    assert [type(e).__name__ for e in events] == ["OnecardRecharge", "OnecardPayment", "OnecardPayment",
                                                  "OnecardDoor", "OnecardDoor", "OnecardCard", "OnecardCard",
                                                  "OnecardTerminal"]
    recharge, _pay, refused, _door, stranger, loss, replace, terminal = events
    assert recharge.ts == dt.datetime(2025, 3, 4, 10, 12, tzinfo=TZ) and recharge.channel == "kiosk"
    assert refused.result == "insufficient" and refused.merchant == "cafe"
    assert (stranger.person_id, stranger.result, stranger.reason) == (None, "denied", "unknown_card")
    assert (loss.action, replace.action, replace.new_card_no) == ("loss", "replace", "3234567890")
    assert (terminal.kind, terminal.online, terminal.pending) == ("door", False, 12)


@pytest.mark.parametrize(("fmt", "index", "changes", "message"), [
    ("json", 1, {"shbh": "ZZ"}, "onecard record XF2025030400000018: field 'shbh': unknown code 'ZZ', expected one "
                                "of CS, KF, LF, XY"),
    ("json", 0, {"kh": "12ab"}, "onecard record CZ2025030400000017: card_no '12ab' must be 6 to 20 digits"),
    ("json", 0, {"jyje": "0"}, "onecard record CZ2025030400000017: amount of a recharge must be above 0"),
    ("csv", 6, {"xkh": ""}, "onecard record BK2025030400000023: a replacement needs new_card_no"),
    ("json", 3, {"rybh": None}, "onecard record MJ2025030400000020: a granted swipe needs person_id and no reason"),
    ("csv", 1, {"ye": "abc"}, "onecard record XF2025030400000018: Invalid decimal string - at `$.balance` "
                              "(vendor field ye)"),
    ("json", 0, {"xh": None}, "onecard record CZ2025030400000017: missing field 'xh'"),
])
def test_connectors_reject_bad_records(fmt: str, index: int, changes: dict, message: str) -> None:
    assert connector_error(SPEC, fmt, index, changes) == message


def test_extractors() -> None:
    assert list(metrics.recharge(decode(OnecardRecharge, RECHARGE))) == [
        Sum("onecard.recharges"), Sum("onecard.recharge_amount", 200.0)]
    assert list(metrics.payment(decode(OnecardPayment, PAYMENT))) == [
        Sum("onecard.payments"), Sum("onecard.payment_amount", 18.8)]
    assert list(metrics.payment(decode(OnecardPayment, PAYMENT, result="insufficient"))) == [
        Sum("onecard.payments_refused")]
    assert list(metrics.door(decode(OnecardDoor, DOOR, result="denied", reason="expired"))) == [
        Sum("onecard.door_swipes"), Sum("onecard.door.building.B03"), Sum("onecard.door_denied")]
    assert list(metrics.card(decode(OnecardCard, CARD))) == [Sum("onecard.card.replace")]
    assert list(metrics.terminal(decode(OnecardTerminal, TERMINAL))) == [Last("onecard.terminal_online", "D-B03-1", 1)]
