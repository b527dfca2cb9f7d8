"""The ledger check itself: it must be able to fail (no servers; a second after the negative control)."""

from __future__ import annotations

import collections

import pytest

from tests.fault.ledger import Ledger, Op

pytestmark = pytest.mark.fault


def test_ledger_classifies_and_catches_every_kind_of_violation() -> None:
    ledger = Ledger()
    ledger.fault(10.0, 20.0)
    ledger.record(Op(["a", "b"], 1.0, 1.1, "ok"))
    ledger.record(Op(["c"], 11.0, 15.0, "refused"))  # wholly inside the fault: provably not written
    ledger.record(Op(["d"], 9.9, 14.0, "refused"))  # began before the fault: may have been written
    ledger.record(Op(["e"], 12.0, 21.0, "refused"))  # ended after the heal: may have been retried in
    ledger.record(Op(["f"], 2.0, 2.1, "error"))
    ledger.record(Op(["g"], 12.0, 13.0, "refused"))
    ledger.record(Op(["g"], 30.0, 30.1, "ok"))  # a retried post that got through
    k = ledger.keys_by_status()
    assert k == {"ok": {"a", "b", "g"}, "fail": {"c"}, "unknown": {"d", "e", "f"}}

    clean = ledger.check(collections.Counter({"a": 1, "b": 1, "g": 1, "d": 1}))
    assert clean.clean and clean.unknown_stored == 1
    bad = ledger.check(collections.Counter({"a": 2, "c": 1, "z": 1}))
    assert not bad.clean
    assert bad.lost == ["b", "g"] and bad.duplicated == ["a"] and bad.fail_stored == ["c"] and bad.phantom == ["z"]
