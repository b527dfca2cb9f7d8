"""The push bench's per-event latency: each event's first receipt, told from the per-system totals."""

from __future__ import annotations

from bench.bench_push import per_event_latencies


def test_each_event_is_timed_from_the_first_update_whose_total_reaches_it() -> None:
    ticks = [[1000.0, {"a": 2}], [1010.0, {"a": 1, "b": 1}]]
    client = [[1.030, {"a": 1}], [1.050, {"a": 3, "b": 1}]]
    got = sorted(per_event_latencies(ticks, [client], 0, 10_000).tolist())
    # a1 first shown at 1030 (sent 1000); a2, a3 at 1050 (sent 1000, 1010); b1 at 1050 (sent 1010)
    assert got == [30.0, 40.0, 40.0, 50.0]


def test_events_outside_the_window_or_never_shown_are_left_out() -> None:
    ticks = [[1000.0, {"a": 1}], [2000.0, {"a": 1}], [3000.0, {"a": 1}]]
    client = [[1.100, {"a": 1}], [2.100, {"a": 2}]]  # the third event is never shown
    assert per_event_latencies(ticks, [client], 1500, 10_000).tolist() == [100.0]


def test_clients_are_timed_separately_and_an_older_total_does_not_go_back() -> None:
    ticks = [[1000.0, {"a": 2}]]
    fast = [[1.010, {"a": 2}]]
    slow = [[1.020, {"a": 1}], [1.030, {"a": 0}], [1.040, {"a": 2}]]
    assert sorted(per_event_latencies(ticks, [fast, slow], 0, 10_000).tolist()) == [10.0, 10.0, 20.0, 40.0]


def test_percentiles_of_a_numpy_array_match_the_list_version() -> None:
    import numpy as np

    from bench.measure import percentiles

    values = [5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 7.0]
    assert percentiles(np.array(values), (50, 95, 99)) == percentiles(values)
