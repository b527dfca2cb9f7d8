"""Fixtures of the fault tests: private Redis servers, worker processes, warehouses, figures.

Every server and process a test starts is stopped by a finalizer, failing or not; processes
run in their own process groups and are killed by group. Nothing here touches the machine's
shared Redis (127.0.0.1:6379) or its PostgreSQL cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.fault.probes import Figures
from tests.fault.services import PrivatePostgres, RedisServer, Workers, private_pg_unavailable
from tests.streams.schemas import Gate, Meal
from warehouse.db import make_engine
from warehouse.facts import FactTables
from warehouse.schema import create_schema


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    fig = Figures(request.node.name)
    yield fig
    rep = getattr(request.node, "rep_call", None)
    fig.save("passed" if rep is not None and rep.passed else "failed" if rep is not None else "error")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    servers: list[RedisServer] = []

    def make(appendonly: bool = True, name: str = "redis", appendfsync: str = "everysec") -> RedisServer:
        srv = RedisServer(tmp_path / name, appendonly=appendonly, appendfsync=appendfsync)
        srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Workers]]:
    made: list[Workers] = []

    def make(**kw) -> Workers:  # type: ignore[no-untyped-def]
        w = Workers(tmp_path / f"workers{len(made)}", **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop_all()


@pytest.fixture
def fact_tables() -> FactTables:
    return FactTables([Meal, Gate])


def sqlite_warehouse(path: Path, tables: FactTables) -> tuple[str, Engine]:
    """(url, reader engine): the schema is made by a consumer-role engine; the test reads through a
    web-role one (BEGIN DEFERRED), so its checks never queue for the write lock the workers need."""
    url = f"sqlite:///{path}"
    writer = make_engine(url, role="consumer")
    create_schema(writer, tables)
    writer.dispose()
    return url, make_engine(url, role="web")


@dataclass
class WarehouseDb:
    url: str
    engine: Engine  # a reader (web role): the test's checks never queue for the workers' write lock
    sqlite_path: Path | None = None
    pg: PrivatePostgres | None = None


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_db(request: pytest.FixtureRequest, tmp_path: Path, fact_tables: FactTables) -> Iterator[WarehouseDb]:
    """An empty warehouse used by this test only: a SQLite file, or a private PostgreSQL cluster
    (initdb + pg_ctl in a temp dir on a free port as the postgres OS user; never the shared one)."""
    if request.param == "sqlite":
        url, engine = sqlite_warehouse(tmp_path / "warehouse.db", fact_tables)
        yield WarehouseDb(url, engine, sqlite_path=tmp_path / "warehouse.db")
        engine.dispose()
        return
    why = private_pg_unavailable()
    if why:
        pytest.skip(f"no private PostgreSQL: {why}")
    pg = PrivatePostgres()
    try:
        pg.start()
        writer = make_engine(pg.url, role="consumer")
        create_schema(writer, fact_tables)
        writer.dispose()
        engine = make_engine(pg.url, role="web")
        yield WarehouseDb(pg.url, engine, pg=pg)
        engine.dispose()
    finally:
        pg.destroy()


@pytest.fixture
def sqlite_wh(tmp_path: Path, fact_tables: FactTables) -> Iterator[tuple[str, Engine]]:
    url, engine = sqlite_warehouse(tmp_path / "warehouse.db", fact_tables)
    yield url, engine
    engine.dispose()

