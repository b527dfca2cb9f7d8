"""Bookkeeping tables written in the same transaction as the facts.

- `outbox`: the live-state delta of each committed batch until Redis has applied it, so a
  crash between the SQL commit and the Redis update re-applies instead of losing or doubling.
- `consumer_position`: each consumer's last stream id, committed with its facts.
- `rollup_hourly`, `rollup_hourly_dim`, `rollup_daily`: incremental aggregates; pages read a
  year of history from these in milliseconds instead of scanning raw rows (STACK.md).
- `source_seq`: per-source sequence coverage, so lost events show up as gaps even where the
  transport cannot promise zero loss (Redis failover, SECURITY.md).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Double, Integer, String, Table, Text

from warehouse.models import Base
from warehouse.sqltypes import UtcDateTime

metadata = Base.metadata

outbox = Table(
    "outbox", metadata,
    Column("batch_id", String(32), primary_key=True),  # time-ordered: oldest first by key order
    Column("stream", String(128), nullable=False),
    Column("group_name", String(64), nullable=False),
    Column("consumer", String(64), nullable=False),
    Column("last_id", String(64), nullable=False),
    Column("deltas", Text, nullable=False),
    Column("n_new", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

consumer_position = Table(
    "consumer_position", metadata,
    Column("stream", String(128), primary_key=True),
    Column("group_name", String(64), primary_key=True),
    Column("consumer", String(64), primary_key=True),
    Column("last_id", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

rollup_hourly = Table(
    "rollup_hourly", metadata,
    Column("schema", String(64), primary_key=True),
    Column("hour_utc", UtcDateTime, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("amount_sum", Double),  # NULL when the schema has no measure
)

rollup_hourly_dim = Table(
    "rollup_hourly_dim", metadata,
    Column("schema", String(64), primary_key=True),
    Column("dim", String(32), primary_key=True),
    Column("dim_value", String(64), primary_key=True),  # "" where the event's value is missing
    Column("hour_utc", UtcDateTime, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("amount_sum", Double),
)

rollup_daily = Table(
    "rollup_daily", metadata,
    Column("schema", String(64), primary_key=True),
    Column("day", Date, primary_key=True),  # local day in the warehouse's zone (Asia/Shanghai)
    Column("n", BigInteger, nullable=False),
    Column("amount_sum", Double),
)

source_seq = Table(
    "source_seq", metadata,
    Column("source", String(64), primary_key=True),
    Column("min_seq", BigInteger, nullable=False),
    Column("max_seq", BigInteger, nullable=False),
    Column("n", BigInteger, nullable=False),
)

OPS_TABLES = (outbox, consumer_position, rollup_hourly, rollup_hourly_dim, rollup_daily, source_seq)
