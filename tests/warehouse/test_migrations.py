"""Migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from warehouse.db import make_engine
from warehouse.migrate import alembic_config, current_revision, upgrade
from warehouse.schema import target_metadata


def test_migrations_produce_exactly_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url, role="consumer")
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, target_metadata())
    assert diff == [], "run `python -m warehouse.migrate revision -m ...` and commit the new revision"
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    engine.dispose()


def test_upgrade_twice_changes_nothing(db_url: str) -> None:
    engine = make_engine(db_url, role="consumer")
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == tables
    assert {"outbox", "consumer_position", "rollup_hourly", "source_seq", "d_person"} <= tables
    engine.dispose()
