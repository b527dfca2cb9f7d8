"""What one run writes and how its effect is checked: a scratch warehouse with the workload's tables,
the consumer group on its streams, and the counts a run must end with.

The warehouse is a temp SQLite file or a fresh PostgreSQL schema (`BENCH_PG_URL`, else the local
test database) dropped afterwards, so every run starts empty and leaves nothing behind. The checks
count what landed (fact rows, live-state event counters) rather than trusting the consumers' own
figures.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from bench.workload import Workload

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GROUP = "warehouse"


def engine_name(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@contextlib.contextmanager
def scratch_db(engine: str, pg_url: str = PG_URL) -> Iterator[str]:
    """`sqlite`: a file in a temp folder; `postgresql`: a fresh schema first on the search_path, dropped after."""
    from sqlalchemy import create_engine, make_url

    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
            yield f"sqlite:///{tmp}/warehouse.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def prepare_warehouse(db_url: str, workload: Workload) -> dict[str, Any]:
    """Create dimensions, ops tables and the workload's fact tables; report the durability settings."""
    from warehouse.db import check_durability, make_engine
    from warehouse.schema import create_schema

    engine = make_engine(db_url, role="consumer")
    create_schema(engine, workload.tables())
    problems = check_durability(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            settings = {"journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                        "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar()}
        else:
            settings = {k: conn.exec_driver_sql(f"SHOW {k}").scalar() for k in ("fsync", "synchronous_commit")}
            settings["server_version"] = conn.exec_driver_sql("SHOW server_version").scalar()
        conn.rollback()
    engine.dispose()
    return {"engine": engine_name(db_url), "settings": settings, "durability_problems": problems}


def warehouse_rows(db_url: str, workload: Workload) -> int:
    from sqlalchemy import func, select

    from warehouse.db import make_engine

    engine = make_engine(db_url, role="web")
    tables = workload.tables()
    with engine.connect() as conn:
        n = sum(conn.execute(select(func.count()).select_from(ft.table)).scalar_one() for ft in tables)
        conn.rollback()
    engine.dispose()
    return int(n)


def live_event_total(r: redis.Redis) -> float:
    """Sum of every `<system>.events` counter over all days in live state (one per new event)."""
    total = 0.0
    for key in r.scan_iter(match="live:sum:*", count=1000):
        for metric, value in r.hgetall(key).items():
            if metric.endswith(b".events"):
                total += float(value)
    return total


def create_groups(r: redis.Redis, streams: Sequence[str]) -> None:
    from streams.consumer import ensure_group

    for s in streams:
        ensure_group(r, s, GROUP)
