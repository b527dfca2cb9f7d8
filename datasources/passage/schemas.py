"""Event schemas of smart passage (智慧通行 / 一号通): person gate passes (card, face, QR), vehicle
gate passes by plate recognition, visitor pass applications and approvals, and gate status.

Visitor events carry the visitor's name, phone, ID-card number and plate as the source sends
them; masking happens on the server before anything reaches a wall (SECURITY.md).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from datasources.base import Event, SchemaError
from datasources.vendorkit import check_range

Direction = Literal["in", "out"]
PersonMethod = Literal["card", "face", "qr"]
PersonReason = Literal["unknown_face", "no_permission", "expired_pass", "blacklisted"]
PlateColor = Literal["blue", "green", "yellow", "white", "black"]
VehicleKind = Literal["staff", "official", "visitor", "service", "unknown"]
VehicleReason = Literal["not_registered", "blacklisted", "expired_pass"]
VisitState = Literal["applied", "approved", "rejected", "cancelled"]
GateMode = Literal["normal", "always_open", "locked"]

PLATE = re.compile(r"^[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}$")
PHONE = re.compile(r"^1[3-9]\d{9}$")
ID_CARD = re.compile(r"^\d{17}[\dX]$")


def _check_plate(plate: str) -> None:
    if not PLATE.match(plate):
        raise SchemaError(f"plate {plate!r} is not a Chinese plate like '鲁A12345' or '鲁AD12345'")


class PassagePerson(Event, tag="passage.person", frozen=True, kw_only=True):
    """A pass at a pedestrian gate by a staff member or a visitor; a refused one names its reason."""

    gate_id: str
    direction: Direction
    method: PersonMethod
    result: Literal["granted", "denied"] = "granted"
    person_id: str | None = None
    visitor_id: str | None = None
    card_no: str | None = None
    reason: PersonReason | None = None

    def check(self) -> None:
        if self.person_id is not None and self.visitor_id is not None:
            raise SchemaError("a pass is by a person or by a visitor, not both")
        if self.result == "granted":
            if self.person_id is None and self.visitor_id is None:
                raise SchemaError("a granted pass needs person_id or visitor_id")
            if self.reason is not None:
                raise SchemaError("a granted pass has no reason")
        elif self.reason is None:
            raise SchemaError("a denied pass needs a reason")


class PassageVehicle(Event, tag="passage.vehicle", frozen=True, kw_only=True):
    """A pass at a vehicle gate, recognised by plate; `confidence` is the recogniser's score."""

    gate_id: str
    direction: Direction
    plate: str
    plate_color: PlateColor = "blue"
    vehicle_kind: VehicleKind
    result: Literal["granted", "denied"] = "granted"
    person_id: str | None = None
    vehicle_id: str | None = None
    visitor_id: str | None = None
    reason: VehicleReason | None = None
    confidence: float = 1.0

    def check(self) -> None:
        _check_plate(self.plate)
        check_range("confidence", self.confidence, 0, 1)
        needs = {"staff": "person_id", "official": "vehicle_id", "visitor": "visitor_id"}.get(self.vehicle_kind)
        if needs is not None and getattr(self, needs) is None:
            raise SchemaError(f"vehicle_kind {self.vehicle_kind} needs {needs}")
        if (self.result == "denied") != (self.reason is not None):
            raise SchemaError("a denied pass needs a reason and a granted one has none")


class PassageVisitor(Event, tag="passage.visitor", frozen=True, kw_only=True):
    """A visitor pass through its life: applied by the visitor, approved or rejected by the host."""

    visitor_id: str
    state: VisitState
    name: str
    phone: str
    id_card: str
    host_person_id: str
    host_unit_id: str
    purpose: str
    visit_start: dt.datetime
    visit_end: dt.datetime
    plate: str | None = None
    companions: int = 0
    approver_id: str | None = None

    def check(self) -> None:
        if not 1 <= len(self.name) <= 40:
            raise SchemaError("name must be 1 to 40 characters")
        if not PHONE.match(self.phone):
            raise SchemaError(f"phone {self.phone!r} is not an 11-digit mobile number")
        if not ID_CARD.match(self.id_card):
            raise SchemaError("id_card must be 18 characters: 17 digits and a digit or X")
        if self.visit_start.tzinfo is None or self.visit_end.tzinfo is None:
            raise SchemaError("visit_start and visit_end must carry a time zone")
        if self.visit_end <= self.visit_start:
            raise SchemaError("visit_end must be after visit_start")
        if self.plate is not None:
            _check_plate(self.plate)
        check_range("companions", self.companions, 0, 50)
        if self.state in ("approved", "rejected") and self.approver_id is None:
            raise SchemaError(f"approver_id is required when state is {self.state}")


class PassageGate(Event, tag="passage.gate", frozen=True, kw_only=True):
    """A gate's status report: the heartbeat of the passage system."""

    gate_id: str
    kind: Literal["person", "vehicle"]
    online: bool
    mode: GateMode = "normal"


EVENTS = (PassagePerson, PassageVehicle, PassageVisitor, PassageGate)
