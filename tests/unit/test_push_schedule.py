"""The pusher's flush schedule: a fixed grid, and a fresh grid after a stall instead of a burst."""

from __future__ import annotations

from streams.push import next_flush


def test_flushes_stay_on_the_grid_whatever_a_flush_takes() -> None:
    deadline, times = 0.0, []
    for took in (0.002, 0.010, 0.0, 0.095, 0.030):  # each flush's duration, shorter than the interval
        deadline = next_flush(deadline, deadline + took, 0.1)
        times.append(round(deadline, 6))
    assert times == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_a_stalled_pusher_starts_a_new_grid_instead_of_catching_up() -> None:
    assert next_flush(1.0, 1.35, 0.1) == 1.35 + 0.1  # three intervals missed: one flush, an interval from now
    assert next_flush(1.0, 1.1, 0.1) == 1.1 + 0.1  # exactly one interval late is a new grid too
    assert next_flush(1.0, 1.05, 0.1) == 1.1  # half an interval late: still on the grid
