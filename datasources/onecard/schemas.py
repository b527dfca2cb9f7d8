"""Event schemas of the one-card platform (一卡通): recharges, payments at compound merchants, door
swipes, card loss and replacement, and terminal status (the heartbeat).

Canteen meals are the canteen system's settlements; the one-card payments here are the other
merchants (shop, cafe, barber, laundry), so nothing is counted twice. Money is Decimal CNY;
`balance` is the card balance after the transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from datasources.base import Event, SchemaError
from datasources.vendorkit import check_money, check_range

Channel = Literal["counter", "kiosk", "app", "payroll"]
Merchant = Literal["shop", "cafe", "barber", "laundry"]
PayResult = Literal["ok", "insufficient", "blacklisted", "error"]
DoorReason = Literal["no_permission", "lost_card", "expired", "unknown_card", "out_of_hours"]
CardAction = Literal["loss", "replace"]
TerminalKind = Literal["door", "pos", "kiosk", "counter"]
BALANCE_LIMIT = Decimal(1000000)


def _check_card(card_no: str) -> None:
    if not (card_no.isdigit() and 6 <= len(card_no) <= 20):
        raise SchemaError(f"card_no {card_no!r} must be 6 to 20 digits")


class OnecardRecharge(Event, tag="onecard.recharge", frozen=True, kw_only=True):
    """Money put on a card at the service counter, a kiosk, the app or by payroll."""

    txn_id: str
    card_no: str
    person_id: str
    terminal_id: str
    channel: Channel
    amount: Decimal
    balance: Decimal
    result: Literal["ok", "failed"] = "ok"

    def check(self) -> None:
        _check_card(self.card_no)
        check_money("amount", self.amount)
        if self.amount == 0:
            raise SchemaError("amount of a recharge must be above 0")
        check_money("balance", self.balance, BALANCE_LIMIT)


class OnecardPayment(Event, tag="onecard.payment", frozen=True, kw_only=True):
    """A card payment at a compound merchant; a refused one keeps the balance unchanged."""

    txn_id: str
    card_no: str
    person_id: str
    terminal_id: str
    merchant: Merchant
    amount: Decimal
    balance: Decimal
    result: PayResult = "ok"

    def check(self) -> None:
        _check_card(self.card_no)
        check_money("amount", self.amount)
        check_money("balance", self.balance, BALANCE_LIMIT)


class OnecardDoor(Event, tag="onecard.door", frozen=True, kw_only=True):
    """A swipe at a building door reader; an unknown card has no person."""

    card_no: str
    person_id: str | None = None
    door_id: str
    building_id: str
    result: Literal["granted", "denied"]
    reason: DoorReason | None = None

    def check(self) -> None:
        _check_card(self.card_no)
        if self.result == "denied" and self.reason is None:
            raise SchemaError("a denied swipe needs a reason")
        if self.result == "granted" and (self.reason is not None or self.person_id is None):
            raise SchemaError("a granted swipe needs person_id and no reason")


class OnecardCard(Event, tag="onecard.card", frozen=True, kw_only=True):
    """A card reported lost (blocked at once) or replaced by a new card number."""

    card_no: str
    person_id: str
    action: CardAction
    new_card_no: str | None = None
    terminal_id: str

    def check(self) -> None:
        _check_card(self.card_no)
        if self.action == "replace":
            if self.new_card_no is None:
                raise SchemaError("a replacement needs new_card_no")
            _check_card(self.new_card_no)
            if self.new_card_no == self.card_no:
                raise SchemaError("new_card_no must differ from card_no")


class OnecardTerminal(Event, tag="onecard.terminal", frozen=True, kw_only=True):
    """A terminal's status as the platform sees it; `pending` records wait for upload while offline."""

    terminal_id: str
    kind: TerminalKind
    building_id: str | None = None
    online: bool
    pending: int = 0

    def check(self) -> None:
        check_range("pending", self.pending, 0, 100000)


EVENTS = (OnecardRecharge, OnecardPayment, OnecardDoor, OnecardCard, OnecardTerminal)
