"""Engines per role: SQLite pragmas, who begins IMMEDIATE, and the durability check."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, make_url, text

from tests.warehouse.conftest import PG_URL, pg_unreachable
from warehouse.db import check_durability, make_engine


def pragmas(engine) -> dict[str, object]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
                for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}


@pytest.mark.parametrize(("role", "synchronous"), [("consumer", 2), ("web", 2), ("backfill", 0)])
def test_sqlite_pragmas_per_role(tmp_path, role: str, synchronous: int) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path}/nested/dir/w.db", role=role)  # type: ignore[arg-type]
    assert pragmas(engine) == {"journal_mode": "wal", "synchronous": synchronous, "foreign_keys": 1,
                               "busy_timeout": 30000}
    assert (tmp_path / "nested" / "dir" / "w.db").exists()
    engine.dispose()


def test_consumer_engine_is_durable(engine) -> None:  # type: ignore[no-untyped-def]
    assert check_durability(engine) == []


def test_durability_check_flags_unsafe_sqlite_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/w.db"
    backfill = make_engine(url, role="backfill")
    assert check_durability(backfill) == []  # fast on purpose, and allowed for its own role
    problems = check_durability(backfill, role="consumer")
    assert len(problems) == 1 and "synchronous is OFF" in problems[0]
    plain = create_engine(f"sqlite:///{tmp_path}/plain.db")  # journal_mode=delete, synchronous=FULL
    assert [p.split(" is ")[0] for p in check_durability(plain)] == ["SQLite journal_mode"]
    lowered = make_engine(url, role="consumer")
    event.listen(lowered.pool, "connect", lambda dbapi, _rec: dbapi.execute("PRAGMA synchronous=NORMAL"))
    assert ["synchronous is NORMAL" in p for p in check_durability(lowered)] == [True]
    for e in (backfill, plain, lowered):
        e.dispose()


@pytest.mark.postgres
def test_durability_check_flags_synchronous_commit_off() -> None:
    if reason := pg_unreachable():
        pytest.skip(reason)
    url = make_url(PG_URL).update_query_dict({"options": "-csynchronous_commit=off"}).render_as_string(False)
    engine = make_engine(url, role="consumer")
    assert check_durability(engine) == ["PostgreSQL synchronous_commit is off: committed facts may be lost on a crash"]
    engine.dispose()


def test_web_readers_do_not_wait_for_a_writer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/w.db"
    writer, reader = make_engine(url, role="consumer"), make_engine(url, role="web")
    with writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with writer.connect() as w:
        w.begin()  # BEGIN IMMEDIATE: holds the write lock
        w.exec_driver_sql("INSERT INTO t VALUES (1)")
        with reader.connect() as r:  # BEGIN DEFERRED under WAL: reads the last commit at once
            assert r.execute(text("SELECT count(*) FROM t")).scalar() == 0
        w.commit()
    writer.dispose()
    reader.dispose()


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="role"):
        make_engine("sqlite://", role="admin")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="psycopg 3"):
        make_engine("postgresql+psycopg2://u@h/db", role="consumer")
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql://u@h/db", role="consumer")
