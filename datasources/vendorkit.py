"""Mapping vendor records (JSON objects or CSV rows) onto event schemas, declared as tables.

Each vendor system sends one record layout per event kind, told apart by a type field.
A connector is then a table of `RecordType`s (event field -> vendor field or getter) plus
the record's id, time and serial-number fields, so adding a vendor layout is data, not a
new parser. The JSON and CSV connectors of a system share the table: CSV differs only in
that every value arrives as a string, which msgspec's lax conversion turns into numbers.

The key is derived from the vendor's own record id and the event time, so a re-sent
record gets the same key and the warehouse drops the copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from datasources.base import UTC, Connector, Event, SchemaError, make_key

SHANGHAI = ZoneInfo("Asia/Shanghai")

Getter = str | Callable[[Mapping[str, Any]], Any]
"""A vendor field name (value passed on as is) or a function of the whole record."""

_TRUE = {"1", "true", "yes", "y", "on", "是", "开"}
_FALSE = {"0", "false", "no", "n", "off", "否", "关"}
_AT = re.compile(r"at `\$\.(\w+)`")


def stable_rand(system: str, record_id: str) -> int:
    """80 bits from a stable hash of the vendor record id, so a re-sent record keeps its key."""
    return int.from_bytes(hashlib.blake2b(f"{system}:{record_id}".encode(), digest_size=10).digest(), "big")


def local_time(value: Any, tz: ZoneInfo = SHANGHAI) -> dt.datetime:
    """Vendor time -> aware UTC; vendors write local wall time without a zone, often with slashes."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip().replace("/", "-")
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise SchemaError(f"time {value!r} is not a date-time like '2025-03-03 08:15:00'") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def required(raw: Mapping[str, Any], name: str) -> Any:
    """The value of a vendor field, with an error that names the field when it is absent or empty."""
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SchemaError(f"missing field {name!r}")
    return value.strip() if isinstance(value, str) else value


def time_getter(name: str, tz: ZoneInfo = SHANGHAI) -> Callable[[Mapping[str, Any]], dt.datetime]:
    """A second time field of a record (pick-up, keep-until, visit end): local wall time without a
    zone is read in `tz`."""

    def get(raw: Mapping[str, Any]) -> dt.datetime:
        return local_time(required(raw, name), tz)

    return get


def flag(name: str) -> Callable[[Mapping[str, Any]], bool]:
    """A vendor yes/no field (1/0, true/false, 是/否) as bool."""

    def get(raw: Mapping[str, Any]) -> bool:
        value = required(raw, name)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SchemaError(f"field {name!r}: {value!r} is not a yes/no value (1/0, true/false, 是/否)")

    return get


def code(name: str, table: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
    """A vendor code field translated through `table` (codes compared as stripped, upper-case text)."""

    def get(raw: Mapping[str, Any]) -> Any:
        value = required(raw, name)
        try:
            return table[str(value).strip().upper()]
        except KeyError:
            raise SchemaError(f"field {name!r}: unknown code {value!r}, expected one of {', '.join(table)}") from None

    return get


def opt(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """An optional vendor field: absent or empty gives None so the event's default applies."""

    def get(raw: Mapping[str, Any]) -> Any:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value.strip() if isinstance(value, str) else value

    return get


@dataclass(frozen=True)
class RecordType:
    """One vendor record layout: the event it becomes and where each event field comes from."""

    cls: type[Event]
    fields: Mapping[str, Getter]


@dataclass(frozen=True)
class VendorFormat:
    """A vendor system's record family: type field, record layouts and the envelope fields."""

    system: str
    type_field: str
    types: Mapping[str, RecordType]
    id_field: str
    time_field: str
    seq_field: str

    def to_event(self, raw: Mapping[str, Any], *, source: str, strict: bool) -> Event:
        """Map one record; errors name the record id and the vendor field where possible."""
        rid = str(raw.get(self.id_field) or "?").strip()
        try:
            kind = str(required(raw, self.type_field)).strip().upper()
            layout = self.types.get(kind)
            if layout is None:
                raise SchemaError(f"unknown record type {kind!r}, expected one of {', '.join(self.types)}")
            rid = str(required(raw, self.id_field))
            ts = local_time(required(raw, self.time_field))
            serial = required(raw, self.seq_field)
            try:
                seq = int(serial)
            except ValueError:
                raise SchemaError(f"field {self.seq_field!r}: {serial!r} is not a serial number") from None
            fields: dict[str, Any] = {}
            for name, getter in layout.fields.items():
                value = raw.get(getter) if isinstance(getter, str) else getter(raw)
                if isinstance(value, str):
                    value = value.strip()
                if value is not None and value != "":
                    fields[name] = value
        except ValueError as exc:
            raise SchemaError(f"{self.system} record {rid}: {exc}") from None
        fields.update(source=source, ts=ts, key=make_key(ts, stable_rand(self.system, rid)), seq=seq)
        try:
            return msgspec.convert(fields, type=layout.cls, strict=strict)
        except msgspec.ValidationError as exc:
            raise SchemaError(f"{self.system} record {rid}: {self._vendor_hint(layout, str(exc))}") from None

    @staticmethod
    def _vendor_hint(layout: RecordType, message: str) -> str:
        """Point a schema error at the vendor field behind the event field, which is what the sender sees."""
        found = _AT.search(message) or re.search(r"required field `(\w+)`", message)
        getter = layout.fields.get(found.group(1)) if found else None
        return f"{message} (vendor field {getter})" if isinstance(getter, str) else message

    def connectors(self) -> dict[str, Connector]:
        """The system's JSON and CSV connectors: same layouts, CSV converted from strings."""

        def from_json(raw: Mapping[str, Any]) -> Event:
            return self.to_event(raw, source=f"vendor.{self.system}.json", strict=True)

        def from_csv(raw: Mapping[str, Any]) -> Event:
            return self.to_event(raw, source=f"vendor.{self.system}.csv", strict=False)

        return {"json": from_json, "csv": from_csv}


def check_range(name: str, value: float, lo: float, hi: float, unit: str = "") -> None:
    """The schemas' range rule, with one wording for every system: 'supply_temp_c 95.0 °C is outside -10..70'."""
    if not lo <= value <= hi:
        suffix = f" {unit}" if unit else ""
        raise SchemaError(f"{name} {value}{suffix} is outside {_plain(lo)}..{_plain(hi)}")


def check_money(name: str, value: Decimal, limit: Decimal = Decimal(100000)) -> None:
    """The money rule of every schema: CNY, 0 <= value < limit, at most 2 decimals (fen)."""
    if 0 <= value < limit and value.as_tuple().exponent >= -2:  # type: ignore[operator]
        return
    if not 0 <= value < limit:
        raise SchemaError(f"{name} {value} CNY must be at least 0 and below {limit}")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise SchemaError(f"{name} {value} CNY has more than 2 decimals")


def _plain(x: float) -> str:
    """A bound as people write it: 0.5, 200, 2592000 (never 2.592e+06)."""
    text = f"{x:g}"
    return f"{x:.0f}" if "e" in text else text
