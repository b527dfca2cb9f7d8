"""Office rooms: schemas, simulator, connectors and live-metric extractors."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.deltas import Last, Sum
from analytics.metrics import rooms as metrics
from datasources.rooms import SPEC
from datasources.rooms import RoomsAssignment, RoomsExpiry, RoomsInspection, RoomsInventory, RoomsRelease
from domain.compound import RANK_AREA_M2
from tests.datasources.sim_checks import (
    HOLIDAY,
    WORKDAY,
    Decoder,
    assert_connectors_agree,
    assert_round_trip,
    compound,
    connector_error,
    count,
    load_ratios,
    run,
)

ROOM = {"room_id": "B02-0503", "building_id": "B02", "floor": 5, "area_m2": 18.0}
CASES = {
    RoomsAssignment: ROOM | {"unit_id": "U02", "person_id": "P00456", "occupant_rank": "副处级", "standard_m2": 12.0,
                             "occupants": 2, "kind": "transfer", "valid_until": "2028-03-03"},
    RoomsRelease: ROOM | {"unit_id": "U02", "person_id": "P00456", "reason": "retire", "occupants_left": 0},
    RoomsInspection: {"room_id": "B02-0503", "building_id": "B02", "inspector_id": "FC01", "result": "compliant",
                      "occupants": 2},
    RoomsExpiry: {"room_id": "B02-0503", "building_id": "B02", "unit_id": "U02", "person_id": "P00456",
                  "expires_on": "2025-04-03", "days_left": 30},
    RoomsInventory: {"building_id": "B02", "rooms_total": 150, "rooms_occupied": 134, "rooms_vacant": 16,
                     "area_total_m2": 3300.0, "area_occupied_m2": 2950.5, "people": 301},
}
decode = Decoder("2025-03-04T09:00:00+08:00", CASES)


@pytest.mark.parametrize("cls", list(CASES))
def test_valid_examples_decode(cls: type) -> None:
    assert decode(cls).schema_name().startswith("rooms.")


def test_dates_decode_as_dates() -> None:
    assert decode(RoomsAssignment).valid_until == dt.date(2028, 3, 3)


@pytest.mark.parametrize(("cls", "change", "message"), [
    (RoomsAssignment, {"area_m2": 0.0}, "area_m2 0.0 m² is outside 0.5..2000"),
    (RoomsAssignment, {"occupants": 0}, "occupants 0 is outside 1..50"),
    (RoomsAssignment, {"occupant_rank": "科员"}, "Invalid enum value '科员' - at `$.occupant_rank`"),
    (RoomsAssignment, {"standard_m2": 18.0}, "standard_m2 18.0 does not match the 12 m² standard of 副处级"),
    (RoomsAssignment, {"valid_until": "soon"}, "Invalid RFC3339 encoded date - at `$.valid_until`"),
    (RoomsRelease, {"reason": "evicted"}, "Invalid enum value 'evicted' - at `$.reason`"),
    (RoomsInspection, {"result": "over_standard"}, "an inspection with result 'over_standard' needs a note"),
    (RoomsExpiry, {"days_left": -1}, "days_left -1 is outside 0..3660"),
    (RoomsInventory, {"rooms_vacant": 10}, "rooms_occupied 134 + rooms_vacant 10 must equal rooms_total 150"),
    (RoomsInventory, {"area_occupied_m2": 4000.0}, "area_occupied_m2 4000.0 m² is outside 0..3300"),
])
def test_invalid_examples_explain_themselves(cls: type, change: dict, message: str) -> None:
    assert decode.error(cls, **change) == message


def test_register_stays_consistent_over_a_fortnight() -> None:
    events = run(SPEC, WORKDAY, days=14, anomaly_p=1.0)
    assert_round_trip(events, SPEC)
    offices = [r for r in compound().rooms if r.kind == "office"]
    seats = {r.id: set() for r in offices}
    snapshots = [e for e in events if isinstance(e, RoomsInventory)]
    assert snapshots[0].rooms_total + snapshots[1].rooms_total > 0
    for e in snapshots:
        assert 0.03 <= e.rooms_vacant / e.rooms_total <= 0.25
    assert sum(e.rooms_total for e in snapshots[:10]) == len(offices)
    for e in events:
        if isinstance(e, RoomsAssignment):
            seats[e.room_id].add(e.person_id)
        elif isinstance(e, RoomsRelease):
            seats[e.room_id].discard(e.person_id)
            assert e.occupants_left >= 0


def test_rhythm_moves_only_on_working_days() -> None:
    work, holiday = count(run(SPEC, WORKDAY)), count(run(SPEC, HOLIDAY))
    assert work["rooms.inspection"] >= 5 and work["rooms.assignment"] + work["rooms.release"] >= 1
    assert set(holiday) == {"rooms.inventory"}
    assert 500 <= sum(work.values()) <= 5000


def test_rate_multiplies_events() -> None:
    inspections, events = load_ratios(SPEC, 20, "rooms.inspection", days=2)
    assert 14 <= inspections <= 28 and 15 <= events <= 25


def over_standard(events: list) -> list[RoomsAssignment]:
    return [e for e in events if isinstance(e, RoomsAssignment) and e.area_m2 / e.occupants > e.standard_m2]


def test_anomaly_gives_an_over_standard_assignment() -> None:
    events = run(SPEC, WORKDAY, anomaly_p=1.0)
    found = over_standard(events)
    assert found and all(e.occupants == 1 and e.area_m2 > RANK_AREA_M2[e.occupant_rank] for e in found)
    assert not over_standard(run(SPEC, WORKDAY, days=3, anomaly_p=0.0))


def test_expiring_assignments_are_reminded_then_renewed() -> None:
    events = run(SPEC, WORKDAY, days=45)
    reminders = {(e.room_id, e.person_id): e.expires_on for e in events if isinstance(e, RoomsExpiry)}
    renewals = {(e.room_id, e.person_id) for e in events if isinstance(e, RoomsAssignment) and e.kind == "renewal"}
    assert reminders and renewals & set(reminders)
    assert all(e.days_left == 30 for e in events if isinstance(e, RoomsExpiry))


def test_connectors_map_vendor_records() -> None:
    assigned, over, released, inspected, expiry, inventory = assert_connectors_agree(SPEC)
    assert (assigned.occupant_rank, assigned.standard_m2, assigned.kind) == ("副处级", 12.0, "transfer")
    assert assigned.valid_until == dt.date(2028, 3, 3) and assigned.seq == 7001
    assert over.area_m2 / over.occupants > over.standard_m2
    assert released.reason == "retire" and released.occupants_left == 0
    assert inspected.result == "over_standard" and expiry.expires_on == dt.date(2025, 4, 3)
    assert inventory.rooms_vacant == 16 and inventory.area_occupied_m2 == 2950.5


@pytest.mark.parametrize(("change", "message"), [
    ({"bzMj": 30}, "rooms record FC20250304001: standard_m2 30.0 does not match the 12 m² standard of 副处级"),
    ({"fplx": "ZL"}, "rooms record FC20250304001: field 'fplx': unknown code 'ZL', expected one of XF, TZ, XQ"),
    ({"ywsj": "2025-13-01 10:00:00"}, "rooms record FC20250304001: time '2025-13-01 10:00:00' is not a date-time "
                                      "like '2025-03-03 08:15:00'"),
    ({"syMj": "large"}, "rooms record FC20250304001: Expected `float`, got `str` - at `$.area_m2` (vendor field syMj)"),
])
def test_connector_errors(change: dict, message: str) -> None:
    assert connector_error(SPEC, "json", 0, change) == message


def test_extractors() -> None:
    assert list(metrics.assignment(decode(RoomsAssignment))) == [Sum("rooms.assignments")]
    assert list(metrics.assignment(decode(RoomsAssignment, occupants=1))) == [
        Sum("rooms.assignments"), Sum("rooms.over_standard")]
    assert list(metrics.release(decode(RoomsRelease))) == [Sum("rooms.releases")]
    assert list(metrics.inspection(decode(RoomsInspection))) == [
        Sum("rooms.inspections"), Sum("rooms.inspection.compliant")]
    assert list(metrics.expiry(decode(RoomsExpiry))) == [Sum("rooms.expiring")]
    assert list(metrics.inventory(decode(RoomsInventory))) == [
        Last("rooms.total", "B02", 150), Last("rooms.occupied", "B02", 134), Last("rooms.vacant", "B02", 16),
        Last("rooms.area_total_m2", "B02", 3300.0), Last("rooms.area_occupied_m2", "B02", 2950.5),
        Last("rooms.people", "B02", 301)]
