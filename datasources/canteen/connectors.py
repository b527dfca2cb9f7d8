"""Connectors for the smart-canteen platform's record export (pinyin-abbreviated vendor fields).

One flat record per event, JSON pushed over HTTP or rows of a CSV export, local wall-clock
times (Asia/Shanghai) without a zone:

| vendor field | event field | notes |
|---|---|---|
| lx | (schema) | XF 消费 settlement, DC 订餐 order, PD 排队 queue, SP 视频 camera, LY 留样 sample |
| lsh | key; txn_id (XF) | 流水号, the platform's record id; key = make_key(fssj, hash(lsh)) |
| fssj | ts | 发生时间 "2025-03-04 12:01:02" or "2025/03/04 12:01:02", local time |
| xh | seq | 序号, the platform's running serial number |
| rybh, dwbh, ctbh, ckbh | person_id, unit_id, canteen_id, window_id | 人员/单位/餐厅/窗口编号 |
| cb | meal | 餐别: ZC breakfast, WUC lunch, WANC dinner |
| zffs | method | 支付方式 (XF): 1 card, 2 face, 3 tray |
| cp | items | 菜品: JSON list of {cpbh, cpmc, sl, dj}; CSV "D201:红烧肉:1:12.00;D401:米饭:1:1.00" |
| jyje, kh, ddh | amount, card_no, order_id | 交易金额 (XF), 卡号 and 订单号 optional |
| ddh, ddje, qcfs, qcsj | order_id, amount, pickup, pickup_at | DC; 取餐方式 TS dine_in, WD takeaway |
| pdrs, ddsc, kf | queue_len, wait_min, open | PD; 排队人数, 等待时长 (min), 开放 optional |
| sxtbh, zxzt, ml | camera_id, online, bitrate_kbps | SP; 在线状态, 码率 optional |
| lybh, cpbh, cpmc, zl | sample_id, dish_id, dish_name, weight_g | LY; 留样编号, 菜品, 重量 (g) |
| bcwd, bcjz, czy | fridge_temp_c, keep_until, operator | LY; 保存温度, 保存截止, 操作员 |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasources.base import SchemaError
from datasources.canteen.schemas import (
    CanteenCameraStatus,
    CanteenOrder,
    CanteenQueue,
    CanteenSample,
    CanteenSettlement,
)
from datasources.vendorkit import RecordType, VendorFormat, code, flag, opt, required, time_getter

MEALS = {"ZC": "breakfast", "WUC": "lunch", "WANC": "dinner"}
METHODS = {"1": "card", "2": "face", "3": "tray"}
PICKUPS = {"TS": "dine_in", "WD": "takeaway"}


def items(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dishes of a record: a JSON list of objects, or the CSV export's 'id:name:qty:price;...' text."""
    value = required(raw, "cp")
    if isinstance(value, str):
        rows = []
        for part in filter(None, (p.strip() for p in value.split(";"))):
            bits = part.split(":")
            if len(bits) != 4:
                raise SchemaError(f"field 'cp': {part!r} is not 'id:name:qty:price'")
            rows.append(dict(zip(("cpbh", "cpmc", "sl", "dj"), bits)))
        value = rows
    if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
        raise SchemaError("field 'cp': expected a list of dishes {cpbh, cpmc, sl, dj}")
    return [{"dish_id": r.get("cpbh"), "name": r.get("cpmc"), "qty": r.get("sl"), "price": r.get("dj")}
            for r in value]


_WHO = {"person_id": "rybh", "unit_id": "dwbh", "canteen_id": "ctbh", "meal": code("cb", MEALS)}

FORMAT = VendorFormat(
    system="canteen", type_field="lx", id_field="lsh", time_field="fssj", seq_field="xh",
    types={
        "XF": RecordType(CanteenSettlement, {
            **_WHO, "txn_id": "lsh", "window_id": "ckbh", "method": code("zffs", METHODS), "items": items,
            "amount": "jyje", "card_no": opt("kh"), "order_id": opt("ddh"),
        }),
        "DC": RecordType(CanteenOrder, {
            **_WHO, "order_id": "ddh", "items": items, "amount": "ddje", "pickup": code("qcfs", PICKUPS),
            "pickup_at": time_getter("qcsj"),
        }),
        "PD": RecordType(CanteenQueue, {
            "canteen_id": "ctbh", "window_id": "ckbh", "queue_len": "pdrs", "wait_min": "ddsc", "open": opt("kf"),
        }),
        "SP": RecordType(CanteenCameraStatus, {
            "camera_id": "sxtbh", "canteen_id": "ctbh", "online": flag("zxzt"), "bitrate_kbps": opt("ml"),
        }),
        "LY": RecordType(CanteenSample, {
            "sample_id": "lybh", "canteen_id": "ctbh", "meal": code("cb", MEALS), "dish_id": "cpbh",
            "dish_name": "cpmc", "weight_g": "zl", "fridge_temp_c": "bcwd", "keep_until": time_getter("bcjz"),
            "operator": "czy",
        }),
    },
)
