"""Engines for the warehouse, configured per role for durability or speed.

The consumer commits facts and its stream position together, so its commits must survive a
power loss (SQLite WAL + synchronous=FULL; PostgreSQL fsync and synchronous_commit on).
A backfill writes rebuildable history and may trade that for speed (synchronous=OFF).
SQLite's Python driver opens transactions lazily and never as IMMEDIATE, so we take over
BEGIN ourselves: writers begin IMMEDIATE, which makes "read existing keys, then insert"
atomic across processes and avoids the deadlock of two readers upgrading to writers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, create_engine, event, make_url

Role = Literal["consumer", "backfill", "web"]

DEFAULT_URL = "sqlite:///data/warehouse.db"
BUSY_TIMEOUT_MS = 30_000
_SQLITE_SYNC = {"consumer": "FULL", "backfill": "OFF", "web": "FULL"}
_SQLITE_SYNC_LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def make_engine(url: str = DEFAULT_URL, *, role: Role) -> Engine:
    """An engine for one role; the role is kept as the execution option `warehouse_role`."""
    if role not in _SQLITE_SYNC:
        raise ValueError(f"role must be one of {sorted(_SQLITE_SYNC)}, not {role!r}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, role)
    elif parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ValueError("PostgreSQL needs the psycopg 3 driver: postgresql+psycopg://...")
        engine = create_engine(url, pool_pre_ping=True)
    else:
        raise ValueError(f"unsupported warehouse database {parsed.get_backend_name()!r}")
    return engine.execution_options(warehouse_role=role)


def _sqlite_engine(url: str, role: Role) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
    synchronous = _SQLITE_SYNC[role]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", f"synchronous={synchronous}",
                       f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        opts = conn.get_execution_options()  # writers that read first (the sink) force IMMEDIATE
        mode = opts.get("sqlite_begin") or ("DEFERRED" if opts.get("warehouse_role") == "web" else "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_sqlite(engine_or_conn: object) -> bool:
    return engine_or_conn.dialect.name == "sqlite"  # type: ignore[attr-defined]


def check_durability(engine: Engine, *, role: Role | None = None) -> list[str]:
    """Settings that could lose committed facts or positions; empty when safe.

    The app calls this at start and refuses (or warns loudly) before consuming. `role`
    defaults to the engine's own; a backfill engine is expected to run unsafely fast.
    """
    role = role or engine.get_execution_options().get("warehouse_role", "consumer")
    problems: list[str] = []
    with engine.connect() as conn:
        if is_sqlite(engine):
            mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()
            level = int(conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
            if mode != "wal":
                problems.append(f"SQLite journal_mode is {mode}, expected wal")
            if role == "consumer" and level < 2:
                problems.append(f"SQLite synchronous is {_SQLITE_SYNC_LEVELS.get(level, level)}, expected FULL "
                                "(NORMAL may roll back the last commits on power loss)")
        else:
            for setting in ("fsync", "synchronous_commit"):
                value = str(conn.exec_driver_sql(f"SHOW {setting}").scalar())
                if value == "off":
                    problems.append(f"PostgreSQL {setting} is off: committed facts may be lost on a crash")
        conn.rollback()
    return problems
