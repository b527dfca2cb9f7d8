"""Connectors for the energy-monitoring platform's export (能耗监测平台, pinyin vendor fields).

One flat record per meter reading, JSON pushed over HTTP or rows of a CSV export, local
wall-clock times (Asia/Shanghai) without a zone:

| vendor field | event field | notes |
|---|---|---|
| sjlx | (schema) | 数据类型: DS reading (the only type this export carries) |
| jlbh | key | 记录编号, the platform's record id; key = make_key(cjsj, hash(jlbh)) |
| cjsj | ts | 采集时间 "2025-03-04 08:15:00" or "2025/03/04 08:15:00", local time |
| xh | seq | 序号, the platform's running serial number |
| bjbh, jzbh, lc | meter_id, building_id, floor | 表计编号, 建筑编号, 楼层 |
| nhlx | kind | 能耗类型 (classification code): 01000 electricity, 02000 water, 03000 gas, 05000 solar |
| dw | unit | 单位: kWh, m3 or m³ |
| ds, zl | reading, delta | 读数 (register), 增量 (since the previous reading) |
| jg | interval_s | 间隔 in seconds, optional (900) |
"""

from __future__ import annotations

from datasources.energy.schemas import EnergyReading
from datasources.vendorkit import RecordType, VendorFormat, code, opt

KINDS = {"01000": "electricity", "02000": "water", "03000": "gas", "05000": "solar"}
UNITS = {"KWH": "kWh", "M3": "m3", "M³": "m3"}

FORMAT = VendorFormat(
    system="energy", type_field="sjlx", id_field="jlbh", time_field="cjsj", seq_field="xh",
    types={
        "DS": RecordType(EnergyReading, {
            "meter_id": "bjbh", "building_id": "jzbh", "floor": "lc", "kind": code("nhlx", KINDS),
            "unit": code("dw", UNITS), "reading": "ds", "delta": "zl", "interval_s": opt("jg"),
        }),
    },
)
