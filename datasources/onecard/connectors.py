"""Connectors for the one-card platform's transaction export (pinyin-abbreviated vendor fields).

One flat record per transaction, JSON pushed over HTTP or rows of a CSV export, local wall-clock
times (Asia/Shanghai) without a zone:

| vendor field | event field | notes |
|---|---|---|
| jylx | (schema) | 交易类型: CZ recharge, XF payment, MJ door swipe, GS card loss, BK card replacement, ZD terminal |
| jylsh | key; txn_id (CZ, XF) | 交易流水号, the platform's record id; key = make_key(jysj, hash(jylsh)) |
| jysj | ts | 交易时间 "2025-03-04 12:01:02" or "2025/03/04 12:01:02", local time |
| xh | seq | 序号, the platform's running serial number |
| kh, rybh, zdbh | card_no, person_id, terminal_id | 卡号, 人员编号 (optional for MJ), 终端编号 |
| jyje, ye | amount, balance | 交易金额, 余额 (CZ, XF) |
| czqd | channel | 充值渠道 (CZ): GT counter, ZZ kiosk, APP app, GZ payroll |
| shbh | merchant | 商户 (XF): CS shop, KF cafe, LF barber, XY laundry |
| jg | result | 结果 (XF): 0 ok, 1 insufficient, 2 blacklisted, 9 error |
| mjbh, lh | door_id, building_id | 门禁编号, 楼号 (MJ) |
| jg | result, reason | 结果 (MJ): 0 granted; denied: 1 no_permission, 2 lost_card, 3 expired, |
| | | 4 unknown_card, 5 out_of_hours |
| xkh | new_card_no | 新卡号 (BK) |
| zdlx | kind | 终端类型 (ZD): MJ door, POS pos, ZZ kiosk, GT counter |
| lh, zxzt, dcs | building_id, online, pending | ZD; 楼号 and 待传数 optional |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from datasources.onecard.schemas import OnecardCard, OnecardDoor, OnecardPayment, OnecardRecharge, OnecardTerminal
from datasources.vendorkit import RecordType, VendorFormat, code, flag, opt

CHANNELS = {"GT": "counter", "ZZ": "kiosk", "APP": "app", "GZ": "payroll"}
MERCHANTS = {"CS": "shop", "KF": "cafe", "LF": "barber", "XY": "laundry"}
PAY_RESULTS = {"0": "ok", "1": "insufficient", "2": "blacklisted", "9": "error"}
DOOR_REASONS = {"0": None, "1": "no_permission", "2": "lost_card", "3": "expired", "4": "unknown_card",
                "5": "out_of_hours"}
DOOR_RESULTS = {k: "granted" if v is None else "denied" for k, v in DOOR_REASONS.items()}
TERMINALS = {"MJ": "door", "POS": "pos", "ZZ": "kiosk", "GT": "counter"}


def constant(value: str) -> Callable[[Mapping[str, Any]], str]:
    """An event field that the record type itself decides (GS is always a loss, BK a replacement)."""
    return lambda _raw: value


_CARD = {"card_no": "kh", "person_id": "rybh", "terminal_id": "zdbh"}
_MONEY = {**_CARD, "txn_id": "jylsh", "amount": "jyje", "balance": "ye"}

FORMAT = VendorFormat(
    system="onecard", type_field="jylx", id_field="jylsh", time_field="jysj", seq_field="xh",
    types={
        "CZ": RecordType(OnecardRecharge, {**_MONEY, "channel": code("czqd", CHANNELS)}),
        "XF": RecordType(OnecardPayment, {**_MONEY, "merchant": code("shbh", MERCHANTS),
                                          "result": code("jg", PAY_RESULTS)}),
        "MJ": RecordType(OnecardDoor, {"card_no": "kh", "person_id": opt("rybh"), "door_id": "mjbh",
                                       "building_id": "lh", "result": code("jg", DOOR_RESULTS),
                                       "reason": code("jg", DOOR_REASONS)}),
        "GS": RecordType(OnecardCard, {**_CARD, "action": constant("loss")}),
        "BK": RecordType(OnecardCard, {**_CARD, "action": constant("replace"), "new_card_no": "xkh"}),
        "ZD": RecordType(OnecardTerminal, {"terminal_id": "zdbh", "kind": code("zdlx", TERMINALS),
                                           "building_id": opt("lh"), "online": flag("zxzt"), "pending": opt("dcs")}),
    },
)
