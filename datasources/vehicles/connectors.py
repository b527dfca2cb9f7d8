"""Connectors for the official-vehicle platform's export (公务用车平台: GPS terminals, dispatch,
fleet card and garage systems behind one interface, with camelCase vendor fields).

One flat record per event, JSON pushed over HTTP or rows of a CSV export, local wall-clock
times (Asia/Shanghai) without a zone:

| vendor field | event field | notes |
|---|---|---|
| msgType | (schema) | GPS position, TRIP trip start/end, FUEL refuelling, REPAIR garage work, CERT compliance |
| msgId | key | the platform's record id; key = make_key(gpsTime, hash(msgId)) |
| gpsTime | ts | "2025-03-04 09:12:30" or "2025/03/04 09:12:30", local time |
| serialNo | seq | the platform's running serial number |
| vehicleNo, plateNo, driverNo | vehicle_id, plate, driver_id | driverNo optional for GPS |
| latitude, longitude, speed, direction | lat, lon, speed_kmh, heading | GPS; WGS-84 degrees, km/h, degrees |
| mileage, accStatus, tripNo | odometer_km, ignition, trip_id | 总里程 km; ACC 1 on 0 off; tripNo optional |
| tripNo, tripStatus, useReason, destination | trip_id, phase, purpose, destination | TRIP; tripStatus 1 start, 2 end |
| applyStatus, applyNo, passengerNum, distance | approval, approval_id, passengers, distance_km | TRIP; 1 approved, |
| | | 0 pending, 9 none; distance on end |
| fuelNo, stationNo, oilType | refuel_id, station_id, fuel | FUEL; oilType 92, 95, 0 (diesel) |
| volume, money | litres, amount | FUEL |
| repairNo, factoryNo, repairType, money, remark | order_id, shop_id, kind, amount, description | REPAIR; repairType |
| | | BY service, WX repair, LT tyre, NJ inspection |
| insureEnd, checkDue, lastMaintainDate, lastMaintainMileage | insurance_expiry, inspection_due, last_service_* | CERT |
"""

from __future__ import annotations

from datasources.vehicles.schemas import (
    VehicleCompliance,
    VehicleMaintenance,
    VehiclePosition,
    VehicleRefuel,
    VehicleTrip,
)
from datasources.vendorkit import RecordType, VendorFormat, code, flag, opt

PHASES = {"1": "start", "2": "end"}
APPROVALS = {"1": "approved", "0": "pending", "9": "none"}
FUELS = {"92": "92", "95": "95", "0": "diesel"}
WORK = {"BY": "service", "WX": "repair", "LT": "tyre", "NJ": "inspection"}

_CAR = {"vehicle_id": "vehicleNo", "plate": "plateNo"}

FORMAT = VendorFormat(
    system="vehicles", type_field="msgType", id_field="msgId", time_field="gpsTime", seq_field="serialNo",
    types={
        "GPS": RecordType(VehiclePosition, {
            **_CAR, "lat": "latitude", "lon": "longitude", "speed_kmh": "speed", "heading": opt("direction"),
            "odometer_km": "mileage", "ignition": flag("accStatus"), "trip_id": opt("tripNo"),
            "driver_id": opt("driverNo"),
        }),
        "TRIP": RecordType(VehicleTrip, {
            **_CAR, "trip_id": "tripNo", "driver_id": "driverNo", "phase": code("tripStatus", PHASES),
            "purpose": "useReason", "destination": "destination", "approval": code("applyStatus", APPROVALS),
            "approval_id": opt("applyNo"), "passengers": opt("passengerNum"), "odometer_km": "mileage",
            "distance_km": opt("distance"),
        }),
        "FUEL": RecordType(VehicleRefuel, {
            **_CAR, "refuel_id": "fuelNo", "driver_id": "driverNo", "station_id": "stationNo",
            "fuel": code("oilType", FUELS), "litres": "volume", "amount": "money", "odometer_km": "mileage",
        }),
        "REPAIR": RecordType(VehicleMaintenance, {
            **_CAR, "order_id": "repairNo", "shop_id": "factoryNo", "kind": code("repairType", WORK),
            "amount": "money", "odometer_km": "mileage", "description": opt("remark"),
        }),
        "CERT": RecordType(VehicleCompliance, {
            **_CAR, "insurance_expiry": "insureEnd", "inspection_due": "checkDue",
            "last_service_date": "lastMaintainDate", "last_service_km": "lastMaintainMileage",
            "odometer_km": "mileage",
        }),
    },
)
