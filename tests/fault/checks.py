"""The end-of-test verdict shared by the fault tests."""

from __future__ import annotations

import redis
from sqlalchemy import Engine

from tests.fault.ledger import Ledger, Verdict
from tests.fault.probes import Figures, assert_live_matches_warehouse, dead_letters, drained, failed_tries, stored_keys
from tests.fault.services import wait_until
from tests.warehouse.checks import assert_rollups_match_facts
from warehouse.facts import FactTables


def settle(r: redis.Redis, engine: Engine, figures: Figures, timeout: float = 90.0) -> float:
    """Wait until nothing is undelivered, unacknowledged or left in the outbox; returns the seconds."""
    took = wait_until(lambda: drained(r, engine), timeout, "the consumers to drain every stream and the outbox",
                      every=0.1)
    figures["settle_s"] = round(took, 2)
    return took


def verdict(ledger: Ledger, engine: Engine, tables: FactTables, figures: Figures) -> Verdict:
    v = ledger.check(stored_keys(engine, tables))
    figures["ledger"] = v.summary()
    return v


def assert_exactly_once(r: redis.Redis, engine: Engine, tables: FactTables, ledger: Ledger, figures: Figures, *,
                        dead: int = 0, dead_keys: frozenset[str] = frozenset(),
                        may_lose: frozenset[str] = frozenset()) -> Verdict:
    """Lost 0, duplicated 0, no refused event stored, nothing unknown to the ledger; live state and the
    rollups agree with the fact rows; `dead` dead letters and no entry charged with a handler failure.
    `dead_keys` are accepted events that must be missing: they were dead-lettered (poison). `may_lose`
    are accepted events a documented guarantee allows to be missing (Redis AOF everysec's window)."""
    v = verdict(ledger, engine, tables, figures)
    assert v.ok > 0, "the load accepted nothing: the test proved nothing"
    figures["lost_within_allowed_window"] = len(set(v.lost) & may_lose)
    lost = [k for k in v.lost if k not in dead_keys and k not in may_lose]
    assert not lost, f"{len(lost)} accepted events are missing from the warehouse, e.g. {lost[:5]}"
    assert dead_keys <= set(v.lost), f"dead-lettered events were stored: {sorted(dead_keys - set(v.lost))}"
    assert not v.duplicated, f"{len(v.duplicated)} keys stored more than once, e.g. {v.duplicated[:5]}"
    assert not v.fail_stored, f"{len(v.fail_stored)} refused events were stored, e.g. {v.fail_stored[:5]}"
    assert not v.phantom, f"{len(v.phantom)} stored keys were never submitted, e.g. {v.phantom[:5]}"
    totals = assert_live_matches_warehouse(r, engine, tables)
    figures["warehouse_totals"] = totals
    assert_rollups_match_facts(engine, tables)
    letters = dead_letters(r)
    assert len(letters) == dead, f"{len(letters)} dead letters, expected {dead}: " + \
        "; ".join(f[b"reason"].decode(errors="replace")[:160] for f in letters[:5])
    charged = failed_tries(r)
    assert not charged, f"entries charged with handler failures (an outage must never count): {list(charged)[:5]}"
    return v
