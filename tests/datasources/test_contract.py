"""The promises every access-layer simulator keeps, checked for each of the ten systems.

Reproducible for a seed (and different for another), ordered and numbered inside the windows
asked for, never silent longer than the system's expected interval (nights and days off
included), and, where the system's own module does not check it along with other things,
every declared schema produced and surviving JSON. What a system does beyond these is tested
in its own module (test_<system>.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from datasources import ba, canteen, energy, kindergarten, onecard, passage, property, rooms, security, vehicles
from datasources.base import SystemSpec
from datasources.registry import SYSTEMS
from tests.datasources.sim_checks import (
    HOLIDAY,
    SATURDAY,
    WORKDAY,
    assert_heartbeat,
    assert_ordered_in_windows,
    assert_round_trip,
    encoded,
    run,
)


@dataclass(frozen=True)
class Contract:
    """How the shared promises are exercised for one system."""

    spec: SystemSpec
    replay: dict[str, Any]  # run() arguments of a working day's reference run
    replay_window_s: float  # asking for that day in windows of this length gives the same events
    other_seed: int  # ... and this seed gives other events
    window_s: float  # windows (and first seq) of the ordering check
    seq_start: int
    heartbeat_days: tuple[dt.date, ...] = (WORKDAY, HOLIDAY)
    heartbeat_span: int = 2  # days per heartbeat run
    slow_rate: float | None = None  # also never silent at this load below 1
    round_trip: dict[str, Any] | None = field(default=None)  # run() arguments; None: the system's module checks it


DAYS_OFF_TOO = (WORKDAY, SATURDAY, HOLIDAY)
CONTRACTS = [
    Contract(canteen.SPEC, {"seed": 5}, 900, 6, window_s=1800, seq_start=41, round_trip={}),
    Contract(onecard.SPEC, {"seed": 5}, 600, 6, window_s=3600, seq_start=7, round_trip={"days": 3, "rate": 2}),
    Contract(passage.SPEC, {"seed": 5}, 300, 6, window_s=900, seq_start=100, round_trip={}),
    Contract(vehicles.SPEC, {"seed": 5}, 450, 6, window_s=1200, seq_start=3, round_trip={"days": 10}),
    Contract(energy.SPEC, {"seed": 5}, 1350, 6, window_s=3600, seq_start=9),
    Contract(ba.SPEC, {"window_s": 7200, "anomaly_p": 0.5}, 7200, 9, window_s=3600, seq_start=1000,
             heartbeat_days=DAYS_OFF_TOO, heartbeat_span=1, slow_rate=0.05),
    Contract(security.SPEC, {"window_s": 3600, "anomaly_p": 0.5}, 3600, 2, window_s=900, seq_start=41,
             heartbeat_days=DAYS_OFF_TOO, heartbeat_span=1),
    Contract(property.SPEC, {"window_s": 600}, 600, 5, window_s=1800, seq_start=7,
             heartbeat_days=DAYS_OFF_TOO, heartbeat_span=1, slow_rate=0.1),
    Contract(rooms.SPEC, {"days": 2, "window_s": 3600, "anomaly_p": 0.5}, 3600, 4, window_s=1200, seq_start=0,
             heartbeat_days=DAYS_OFF_TOO, heartbeat_span=1, slow_rate=0.2),
    Contract(kindergarten.SPEC, {"window_s": 300, "anomaly_p": 0.5}, 300, 8, window_s=600, seq_start=99,
             heartbeat_days=DAYS_OFF_TOO, heartbeat_span=1, slow_rate=0.01),
]
BY_SYSTEM = pytest.mark.parametrize("c", CONTRACTS, ids=lambda c: c.spec.name)


def test_every_system_has_a_contract() -> None:
    assert sorted(c.spec.name for c in CONTRACTS) == sorted(SYSTEMS)


@BY_SYSTEM
def test_simulator_is_reproducible_and_seeded(c: Contract) -> None:
    reference = encoded(run(c.spec, WORKDAY, **c.replay))
    replayed = encoded(run(c.spec, WORKDAY, **(c.replay | {"window_s": c.replay_window_s})))
    assert reference == replayed, f"{c.spec.name}: the same seed gave other events in {c.replay_window_s} s windows"
    other = encoded(run(c.spec, WORKDAY, **(c.replay | {"seed": c.other_seed})))
    assert reference != other, f"{c.spec.name}: seed {c.other_seed} gave the same events"


@BY_SYSTEM
def test_windows_are_ordered_bounded_and_numbered(c: Contract) -> None:
    assert_ordered_in_windows(c.spec, WORKDAY, window_s=c.window_s, seq_start=c.seq_start)


@pytest.mark.parametrize(("c", "day"), [(c, day) for c in CONTRACTS for day in c.heartbeat_days],
                         ids=lambda x: x.spec.name if isinstance(x, Contract) else x.isoformat())
def test_heartbeat_never_silent(c: Contract, day: dt.date) -> None:
    assert_heartbeat(c.spec, day, days=c.heartbeat_span)
    if c.slow_rate is not None:
        assert_heartbeat(c.spec, day, days=c.heartbeat_span, rate=c.slow_rate)


@pytest.mark.parametrize("c", [c for c in CONTRACTS if c.round_trip is not None], ids=lambda c: c.spec.name)
def test_every_schema_appears_and_round_trips(c: Contract) -> None:
    assert_round_trip(run(c.spec, WORKDAY, **(c.round_trip or {})), c.spec)
