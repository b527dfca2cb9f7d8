"""Event schemas of the smart canteen (智慧餐厅): settlements, online orders, window queues,
sunshine-kitchen (阳光厨房) camera status and food-sample (留样) logs.

Money is Decimal CNY with at most 2 decimals. Items travel with settlements and orders so
top dishes and the sample rule (every dish of every meal) can be checked from events alone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

import msgspec

from datasources.base import Event, SchemaError
from datasources.vendorkit import check_money, check_range

Meal = Literal["breakfast", "lunch", "dinner"]
PayMethod = Literal["card", "face", "tray"]
Pickup = Literal["dine_in", "takeaway"]


class Dish(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a tray or an order: dish, quantity and unit price (CNY)."""

    dish_id: str
    name: str
    qty: int = 1
    price: Decimal


def _check_items(items: tuple[Dish, ...]) -> None:
    if not 1 <= len(items) <= 30:
        raise SchemaError(f"items must list 1 to 30 dishes, got {len(items)}")
    if all(1 <= i.qty <= 50 and 0 <= i.price < 1000 and i.price.as_tuple().exponent >= -2 for i in items):
        return  # the hot path; the loop below words the error
    for item in items:
        check_range(f"qty of {item.dish_id}", item.qty, 1, 50)
        check_money(f"price of {item.dish_id}", item.price, Decimal(1000))


class CanteenSettlement(Event, tag="canteen.settlement", frozen=True, kw_only=True):
    """A meal paid at a window: by one-card (card), face recognition (face) or smart tray (tray)."""

    txn_id: str
    person_id: str
    unit_id: str
    canteen_id: str
    window_id: str
    meal: Meal
    method: PayMethod
    items: tuple[Dish, ...]
    amount: Decimal
    card_no: str | None = None
    order_id: str | None = None

    def check(self) -> None:
        _check_items(self.items)
        check_money("amount", self.amount)


class CanteenOrder(Event, tag="canteen.order", frozen=True, kw_only=True):
    """An online order (线上订餐) placed ahead of a meal; it is paid as a settlement at pick-up."""

    order_id: str
    person_id: str
    unit_id: str
    canteen_id: str
    meal: Meal
    items: tuple[Dish, ...]
    amount: Decimal
    pickup: Pickup = "dine_in"
    pickup_at: dt.datetime

    def check(self) -> None:
        _check_items(self.items)
        check_money("amount", self.amount)
        if self.pickup_at.tzinfo is None:
            raise SchemaError("pickup_at must carry a time zone")
        if not dt.timedelta(0) <= self.pickup_at - self.ts <= dt.timedelta(days=7):
            raise SchemaError("pickup_at must be within 7 days after the order time")


class CanteenQueue(Event, tag="canteen.queue", frozen=True, kw_only=True):
    """A window's queue snapshot: people waiting and the estimated wait (alarm above 30 or 10 min)."""

    canteen_id: str
    window_id: str
    queue_len: int
    wait_min: float
    open: bool = True

    def check(self) -> None:
        check_range("queue_len", self.queue_len, 0, 500)
        check_range("wait_min", self.wait_min, 0, 600, "min")


class CanteenCameraStatus(Event, tag="canteen.camera", frozen=True, kw_only=True):
    """A sunshine-kitchen camera's status as reported by the recorder: the canteen's heartbeat."""

    camera_id: str
    canteen_id: str
    online: bool
    bitrate_kbps: float | None = None

    def check(self) -> None:
        if self.bitrate_kbps is not None:
            check_range("bitrate_kbps", self.bitrate_kbps, 0, 100000, "kbps")


class CanteenSample(Event, tag="canteen.sample", frozen=True, kw_only=True):
    """A food sample kept for inspection (留样): the rule wants >= 125 g, refrigerated >= 48 h."""

    sample_id: str
    canteen_id: str
    meal: Meal
    dish_id: str
    dish_name: str
    weight_g: float
    fridge_temp_c: float
    keep_until: dt.datetime
    operator: str

    def check(self) -> None:
        check_range("weight_g", self.weight_g, 1, 5000, "g")
        check_range("fridge_temp_c", self.fridge_temp_c, -30, 20, "°C")
        if self.keep_until.tzinfo is None:
            raise SchemaError("keep_until must carry a time zone")
        if self.keep_until <= self.ts:
            raise SchemaError("keep_until must be after the sample time")


EVENTS = (CanteenSettlement, CanteenOrder, CanteenQueue, CanteenCameraStatus, CanteenSample)
