"""Live metrics of building automation: HVAC units running, load and voltage per building, lift
trips, lighting circuits on, fire points off normal, and faults today and open.

Per-point states are Last values keyed by point (1/0), so "units running" is the sum over
a metric's fields and a unit that stops reporting keeps its last state with its time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analytics.deltas import Contribution, Last, Level, Sum, declare, extractor

SUBSYSTEMS = {"hvac": ("暖通空调", "HVAC"), "power": ("供配电", "power"), "lighting": ("照明", "lighting"),
              "lift": ("电梯", "lifts"), "fire": ("消防", "fire system")}

HVAC_ON = declare("ba.hvac_on", "last", "空调机组运行", "HVAC unit running", "")
SUPPLY_C = declare("ba.supply_temp_c", "last", "送风温度", "supply air temperature", "°C")
LOAD_KW = declare("ba.load_kw", "last", "楼栋用电负荷", "building load", "kW")
VOLTAGE_V = declare("ba.voltage_v", "last", "进线电压", "incoming voltage", "V")
LIFT_TRIPS = declare("ba.lift_trips", "sum", "电梯运行次数", "lift trips", "次")
LIFT_FAULT = declare("ba.lift_fault", "last", "电梯故障", "lift in fault", "")
LIGHTING_ON = declare("ba.lighting_on", "last", "照明回路开启", "lighting circuit on", "")
FIRE_ABNORMAL = declare("ba.fire_abnormal", "last", "消防点位异常", "fire point not normal", "")
FAULTS = declare("ba.faults", "sum", "设备故障", "faults raised", "起")
FAULTS_OPEN = declare("ba.faults_open", "level", "未恢复故障", "open faults", "起")
FAULTS_BY = {k: declare(f"ba.faults.{k}", "sum", f"{zh}故障", f"{en} faults", "起")
             for k, (zh, en) in SUBSYSTEMS.items()}


@extractor("ba.hvac")
def hvac(ev: Any) -> Iterator[Contribution]:
    yield Last(HVAC_ON, ev.point_id, 1 if ev.on else 0)
    yield Last(SUPPLY_C, ev.point_id, ev.supply_temp_c)


@extractor("ba.power")
def power(ev: Any) -> Iterator[Contribution]:
    yield Last(LOAD_KW, ev.building_id, ev.load_kw)
    yield Last(VOLTAGE_V, ev.building_id, ev.voltage_v)


@extractor("ba.lift")
def lift(ev: Any) -> Iterator[Contribution]:
    if ev.trips:
        yield Sum(LIFT_TRIPS, ev.trips)
    yield Last(LIFT_FAULT, ev.lift_id, 1 if ev.status == "fault" else 0)


@extractor("ba.lighting")
def lighting(ev: Any) -> Iterator[Contribution]:
    yield Last(LIGHTING_ON, ev.circuit_id, 1 if ev.on else 0)


@extractor("ba.fire_point")
def fire_point(ev: Any) -> Iterator[Contribution]:
    yield Last(FIRE_ABNORMAL, ev.point_id, 0 if ev.status == "normal" else 1)


@extractor("ba.fault")
def fault(ev: Any) -> Iterator[Contribution]:
    if ev.state == "raised":
        yield Sum(FAULTS)
        yield Sum(FAULTS_BY[ev.subsystem])
        yield Level(FAULTS_OPEN, 1)
    else:
        yield Level(FAULTS_OPEN, -1)
