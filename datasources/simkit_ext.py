"""What the ba, security, property, rooms and kindergarten simulators share beyond `datasources.simkit`.

- `presence`: staff on site per minute from `simkit.roster`, so alarms, lift trips and work
  orders follow the same people the gates see, and days off are quiet by themselves.
- `stagger`/`heartbeat_period`: many devices reporting on a staggered grid, the heartbeat
  that keeps a source from showing as late, at any load multiplier.
"""

from __future__ import annotations

from collections.abc import Iterator

from datasources.simkit import MINUTES, Roster, ticks


def presence(r: Roster) -> list[float]:
    """Staff on site in each local minute of the roster's day (1440 values)."""
    diff = [0.0] * (MINUTES + 1)
    for a, b in zip(r.arrive, r.leave):
        diff[min(MINUTES, int(a // 60))] += 1
        diff[min(MINUTES, int(b // 60))] -= 1
    out, level = [], 0.0
    for m in range(MINUTES):
        level += diff[m]
        out.append(level)
    return out


def heartbeat_period(base_s: float, rate: float, count: int, expected_interval_s: float) -> float:
    """The reporting period at load `rate`: shorter when rate > 1, and never so long (rate < 1) that
    `count` staggered devices leave a gap near `expected_interval_s`."""
    return min(base_s / rate, count * expected_interval_s / 2)


def stagger(t0: float, t1: float, period_s: float, count: int) -> Iterator[tuple[float, int]]:
    """(epoch time, device index) of `count` devices reporting every `period_s`, evenly staggered,
    in [t0, t1): the system is never silent longer than period_s / count."""
    spacing = period_s / count
    for i in range(count):
        for t in ticks(t0, t1, period_s, i * spacing):
            yield t, i
