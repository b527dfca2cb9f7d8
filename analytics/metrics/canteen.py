"""Live metrics of the canteen screen: meals by period and canteen, revenue, payment mix, window
queues and waits, top dishes, online orders, food samples and sunshine-kitchen cameras.

Names with a `{placeholder}` are families: one metric per canteen or dish, named by filling in
the id from the event (for example canteen.meals.canteen.CT1), because analytics does not know
the compound's ids. Meals and revenue come from settlements only; an online order is a booking
and its meal counts when it is paid at pick-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Sum, declare, extractor, member

MEAL_TITLES = {"breakfast": ("早餐", "breakfast"), "lunch": ("午餐", "lunch"), "dinner": ("晚餐", "dinner")}
METHOD_TITLES = {"card": ("刷卡", "card"), "face": ("刷脸", "face"), "tray": ("智能餐盘", "smart tray")}

MEALS = declare("canteen.meals", "sum", "就餐人次", "meals", "人次")
BY_MEAL = {k: declare(f"canteen.meals.{k}", "sum", f"{zh}人次", f"{en} meals", "人次")
           for k, (zh, en) in MEAL_TITLES.items()}
BY_CANTEEN = declare("canteen.meals.canteen.{canteen}", "sum", "各餐厅就餐人次", "meals by canteen", "人次")
REVENUE = declare("canteen.revenue", "sum", "营业额", "revenue", "元")
PAY = {k: declare(f"canteen.pay.{k}", "sum", f"{zh}支付笔数", f"{en} payments", "笔")
       for k, (zh, en) in METHOD_TITLES.items()}
# by the dish's name: a wall ranks 红烧肉, not D201 (and one dish sold under two ids counts once)
DISH = declare("canteen.dish.{dish}", "sum", "菜品售出份数", "dishes sold", "份")
_NOT_IN_KEY = str.maketrans({c: "·" for c in ".*?[] "})  # a name stays one key segment and never a glob
QUEUE = declare("canteen.queue", "last", "窗口排队人数", "queue per window", "人")
ORDERS = declare("canteen.orders", "sum", "线上订餐", "online orders", "单")
SAMPLES = declare("canteen.samples", "sum", "留样登记", "food samples logged", "份")
CAMERA = declare("canteen.kitchen_camera", "last", "阳光厨房摄像头在线", "kitchen camera online", "")


@extractor("canteen.settlement")
def settlement(ev: Any) -> Iterator[Contribution]:
    yield Sum(MEALS)
    yield Sum(BY_MEAL[ev.meal])
    yield Sum(member(BY_CANTEEN, ev.canteen_id))
    yield Sum(REVENUE, float(ev.amount))
    yield Sum(PAY[ev.method])
    for item in ev.items:
        yield Sum(member(DISH, item.name.translate(_NOT_IN_KEY)), item.qty)


@extractor("canteen.order")
def order(ev: Any) -> Iterator[Contribution]:
    yield Sum(ORDERS)


@extractor("canteen.queue")
def queue(ev: Any) -> Iterator[Contribution]:
    """Per window: queue length and estimated wait, with the canteen so a panel can group windows."""
    yield Last(QUEUE, ev.window_id, {"canteen": ev.canteen_id, "len": ev.queue_len, "wait_min": ev.wait_min,
                                     "open": ev.open})


@extractor("canteen.sample")
def sample(ev: Any) -> Iterator[Contribution]:
    yield Sum(SAMPLES)


@extractor("canteen.camera")
def camera(ev: Any) -> Iterator[Contribution]:
    """1 online, 0 offline per camera: cameras online = the sum of the values."""
    yield Last(CAMERA, ev.camera_id, 1 if ev.online else 0)
