"""Alembic environment: the warehouse's own metadata, run on a connection handed in by
`warehouse.migrate` (no alembic.ini), or on the URL in the `sqlalchemy.url` option."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from warehouse.db import make_engine
from warehouse.schema import target_metadata
from warehouse.sqltypes import UtcDateTime


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types with plain SQLAlchemy types, so revisions import nothing of ours."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True).with_variant(sa.BigInteger(), 'sqlite')"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        compare_type=True,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run warehouse.migrate")

given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"), role="consumer")
    try:
        with engine.begin() as conn:
            run(conn)
    finally:
        engine.dispose()
