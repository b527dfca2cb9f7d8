"""Live metrics of the one-card platform: recharges and payments (count and amount), refused
payments, door swipes by building and refused swipes, card losses and replacements, terminals online.

`onecard.door.building.{building}` is a family: the building id from the event fills the name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Sum, declare, extractor, member

RECHARGES = declare("onecard.recharges", "sum", "充值笔数", "recharges", "笔")
RECHARGE_AMOUNT = declare("onecard.recharge_amount", "sum", "充值金额", "recharged", "元")
PAYMENTS = declare("onecard.payments", "sum", "消费笔数", "payments", "笔")
PAYMENT_AMOUNT = declare("onecard.payment_amount", "sum", "消费金额", "spent", "元")
REFUSED = declare("onecard.payments_refused", "sum", "消费失败", "refused payments", "笔")
SWIPES = declare("onecard.door_swipes", "sum", "门禁刷卡", "door swipes", "次")
SWIPES_BY_BUILDING = declare("onecard.door.building.{building}", "sum", "各楼门禁刷卡", "door swipes by building", "次")
DENIED = declare("onecard.door_denied", "sum", "门禁拒绝", "refused swipes", "次")
CARD = {"loss": declare("onecard.card.loss", "sum", "挂失", "cards reported lost", "张"),
        "replace": declare("onecard.card.replace", "sum", "补卡", "cards replaced", "张")}
TERMINAL = declare("onecard.terminal_online", "last", "终端在线", "terminal online", "")


@extractor("onecard.recharge")
def recharge(ev: Any) -> Iterator[Contribution]:
    if ev.result == "ok":
        yield Sum(RECHARGES)
        yield Sum(RECHARGE_AMOUNT, float(ev.amount))


@extractor("onecard.payment")
def payment(ev: Any) -> Iterator[Contribution]:
    if ev.result == "ok":
        yield Sum(PAYMENTS)
        yield Sum(PAYMENT_AMOUNT, float(ev.amount))
    else:
        yield Sum(REFUSED)


@extractor("onecard.door")
def door(ev: Any) -> Iterator[Contribution]:
    yield Sum(SWIPES)
    yield Sum(member(SWIPES_BY_BUILDING, ev.building_id))
    if ev.result == "denied":
        yield Sum(DENIED)


@extractor("onecard.card")
def card(ev: Any) -> Iterator[Contribution]:
    yield Sum(CARD[ev.action])


@extractor("onecard.terminal")
def terminal(ev: Any) -> Iterator[Contribution]:
    """1 online, 0 offline per terminal: terminals online = the sum of the values."""
    yield Last(TERMINAL, ev.terminal_id, 1 if ev.online else 0)
