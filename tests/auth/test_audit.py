"""The audit chain on SQLite and PostgreSQL: verify names a changed, removed or truncated record;
the purge keeps 180 days whatever it is asked; appends from many threads stay one linear chain."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, delete, select, update

from auth import audit
from auth.audit import AuditEvent
from warehouse.identity import auth_audit, auth_audit_head

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def fill(engine: Engine, n: int, *, start: dt.datetime = T0, step: dt.timedelta = dt.timedelta(days=1),
         profile: str = "standard") -> None:
    for i in range(n):
        audit.record(engine, AuditEvent(actor=f"user:u{i}", event="login", address="10.0.0.1",
                                        detail={"before": ["duty_officer"], "after": ["manager"], "n": i}),
                     now=start + step * i, profile=profile)


def problems(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(p) for p in audit.verify(conn)]


@pytest.mark.parametrize("profile", ["standard", "gm"])
def test_an_untouched_chain_verifies(idb: Engine, profile: str) -> None:
    fill(idb, 20, profile=profile)
    assert problems(idb) == []
    with idb.connect() as conn:
        head = conn.execute(select(auth_audit_head)).mappings().one()
        ids = conn.execute(select(auth_audit.c.id).order_by(auth_audit.c.id)).scalars().all()
    assert head["algorithm"] == {"standard": "sha256", "gm": "sm3"}[profile]
    assert ids == list(range(1, 21)) and head["last_id"] == 20


def test_a_changed_field_is_named(idb: Engine) -> None:
    fill(idb, 10)
    with idb.begin() as conn:
        conn.execute(update(auth_audit).where(auth_audit.c.id == 7).values(result="fail"))
    assert problems(idb) == ["record 7: content was changed (hash does not match)"]


def test_a_rehashed_record_breaks_the_next_link(idb: Engine) -> None:
    """An attacker who recomputes the changed record's own hash still breaks record 8's link."""
    fill(idb, 10)
    with idb.connect() as conn:
        row = dict(conn.execute(select(auth_audit).where(auth_audit.c.id == 7)).mappings().one())
    row["reason"] = "covered up"
    row["hash"] = audit._digest("sha256", audit._canonical(row))
    with idb.begin() as conn:
        conn.execute(update(auth_audit).where(auth_audit.c.id == 7).values(reason=row["reason"], hash=row["hash"]))
    assert problems(idb) == ["record 8: link to the previous record is broken"]


def test_removed_records_are_named(idb: Engine) -> None:
    fill(idb, 10)
    with idb.begin() as conn:
        conn.execute(delete(auth_audit).where(auth_audit.c.id.in_([4, 5])))
    assert problems(idb) == ["record 4: missing (records 4-5 were removed)",
                             "record 6: link to the previous record is broken"]


def test_removing_the_newest_record_is_found(idb: Engine) -> None:
    fill(idb, 5)
    with idb.begin() as conn:
        conn.execute(delete(auth_audit).where(auth_audit.c.id == 5))
    assert problems(idb) == ["record 5: missing (the log ends at 4, the head at 5: newest records were removed)"]


def test_an_append_commits_or_rolls_back_with_its_action(idb: Engine) -> None:
    with pytest.raises(RuntimeError), audit.writer(idb) as conn:
        audit.append(conn, AuditEvent(actor="user:a", event="role_change"), now=T0)
        raise RuntimeError("the action failed")
    fill(idb, 1)
    with idb.connect() as conn:
        assert conn.execute(select(auth_audit.c.id)).scalars().all() == [1]
    assert problems(idb) == []


@pytest.mark.parametrize("asked,kept", [(30, 180), (180, 180), (365, 365)])
def test_purge_never_goes_below_180_days(idb: Engine, asked: int, kept: int) -> None:
    fill(idb, 400)  # one record a day from T0
    now = T0 + dt.timedelta(days=400)
    with audit.writer(idb) as conn:
        audit.purge(conn, now=now, keep_days=asked)
    with idb.connect() as conn:
        oldest = conn.execute(select(auth_audit.c.ts).order_by(auth_audit.c.id).limit(1)).scalar_one()
    assert oldest == now - dt.timedelta(days=kept)
    assert problems(idb) == []
    fill(idb, 3, start=now)
    assert problems(idb) == []


def test_concurrent_appends_form_one_chain(idb: Engine) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(15):
                audit.record(idb, AuditEvent(actor=f"user:t{k}", event="view", object=str(i)), now=T0)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert problems(idb) == []
    with idb.connect() as conn:
        assert conn.execute(select(auth_audit_head.c.last_id)).scalar_one() == 60
