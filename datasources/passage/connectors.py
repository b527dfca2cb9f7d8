"""Connectors for the passage platform's event export (一号通, a gate-control platform with
camelCase vendor fields).

One flat record per event, JSON pushed over HTTP or rows of a CSV export, local wall-clock
times (Asia/Shanghai) without a zone:

| vendor field | event field | notes |
|---|---|---|
| recordType | (schema) | PERSON pedestrian pass, VEHICLE vehicle pass, VISITOR visitor pass, GATE gate status |
| recordId | key | the platform's record id; key = make_key(eventTime, hash(recordId)) |
| eventTime | ts | "2025-03-04 08:21:07" or "2025/03/04 08:21:07", local time |
| serialNo | seq | the platform's running serial number |
| doorIndexCode, inOut | gate_id, direction | inOut 0 in, 1 out |
| checkType | method | PERSON: 1 card, 2 face, 3 qr |
| personId, visitorId, cardNo | person_id, visitor_id, card_no | optional |
| resultCode | result, reason | PERSON: 0 granted; denied: 1 unknown_face, 2 no_permission, 3 expired_pass, |
| | | 4 blacklisted |
| | | VEHICLE: 0 granted; denied: 1 not_registered, 2 blacklisted, 3 expired_pass |
| plateNo, plateColor | plate, plate_color | plateColor 0 blue, 1 yellow, 2 white, 3 black, 4 green |
| vehicleType | vehicle_kind | STAFF, OFFICIAL, VISITOR, SERVICE, UNKNOWN |
| vehicleId, confidence | vehicle_id, confidence | optional; confidence in percent (0-100) |
| visitorId, status | visitor_id, state | VISITOR: 0 applied, 1 approved, 2 rejected, 3 cancelled |
| visitorName, phoneNo, certNo | name, phone, id_card | personal data, masked later on the server |
| hostId, hostOrgCode, visitReason | host_person_id, host_unit_id, purpose | |
| startTime, endTime | visit_start, visit_end | local time |
| companionNum, approverId | companions, approver_id | optional |
| gateType, onlineStatus, workMode | kind, online, mode | GATE: 1 person, 2 vehicle; 0 normal, 1 always_open, 2 locked |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from datasources.base import SchemaError
from datasources.passage.schemas import PassageGate, PassagePerson, PassageVehicle, PassageVisitor
from datasources.vendorkit import RecordType, VendorFormat, code, flag, opt, time_getter

DIRECTIONS = {"0": "in", "1": "out"}
METHODS = {"1": "card", "2": "face", "3": "qr"}
PERSON_REASONS = {"0": None, "1": "unknown_face", "2": "no_permission", "3": "expired_pass", "4": "blacklisted"}
VEHICLE_REASONS = {"0": None, "1": "not_registered", "2": "blacklisted", "3": "expired_pass"}
COLORS = {"0": "blue", "1": "yellow", "2": "white", "3": "black", "4": "green"}
KINDS = {"STAFF": "staff", "OFFICIAL": "official", "VISITOR": "visitor", "SERVICE": "service", "UNKNOWN": "unknown"}
STATES = {"0": "applied", "1": "approved", "2": "rejected", "3": "cancelled"}
GATE_KINDS = {"1": "person", "2": "vehicle"}
MODES = {"0": "normal", "1": "always_open", "2": "locked"}


def _results(reasons: Mapping[str, str | None]) -> dict[str, str]:
    return {k: "granted" if v is None else "denied" for k, v in reasons.items()}


def optional_code(name: str, table: Mapping[str, str]) -> Callable[[Mapping[str, Any]], str | None]:
    """A vendor code that may be left out (the event's default applies)."""
    required_code = code(name, table)
    return lambda raw: None if opt(name)(raw) is None else required_code(raw)


def confidence(raw: Mapping[str, Any]) -> float | None:
    """The recogniser's score: the vendor sends percent, the event carries 0..1."""
    value = opt("confidence")(raw)
    if value is None:
        return None
    try:
        return float(value) / 100
    except ValueError:
        raise SchemaError(f"field 'confidence': {value!r} is not a percentage") from None


_PASS = {"gate_id": "doorIndexCode", "direction": code("inOut", DIRECTIONS), "person_id": opt("personId"),
         "visitor_id": opt("visitorId")}

FORMAT = VendorFormat(
    system="passage", type_field="recordType", id_field="recordId", time_field="eventTime", seq_field="serialNo",
    types={
        "PERSON": RecordType(PassagePerson, {
            **_PASS, "method": code("checkType", METHODS), "card_no": opt("cardNo"),
            "result": code("resultCode", _results(PERSON_REASONS)), "reason": code("resultCode", PERSON_REASONS),
        }),
        "VEHICLE": RecordType(PassageVehicle, {
            **_PASS, "plate": "plateNo", "plate_color": code("plateColor", COLORS),
            "vehicle_kind": code("vehicleType", KINDS), "vehicle_id": opt("vehicleId"), "confidence": confidence,
            "result": code("resultCode", _results(VEHICLE_REASONS)), "reason": code("resultCode", VEHICLE_REASONS),
        }),
        "VISITOR": RecordType(PassageVisitor, {
            "visitor_id": "visitorId", "state": code("status", STATES), "name": "visitorName", "phone": "phoneNo",
            "id_card": "certNo", "host_person_id": "hostId", "host_unit_id": "hostOrgCode", "purpose": "visitReason",
            "visit_start": time_getter("startTime"), "visit_end": time_getter("endTime"), "plate": opt("plateNo"),
            "companions": opt("companionNum"), "approver_id": opt("approverId"),
        }),
        "GATE": RecordType(PassageGate, {
            "gate_id": "doorIndexCode", "kind": code("gateType", GATE_KINDS), "online": flag("onlineStatus"),
            "mode": optional_code("workMode", MODES),
        }),
    },
)
