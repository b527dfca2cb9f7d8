"""The SQL warehouse (theme libraries 主题库): dimensions, fact tables derived from the event
schemas, migrations, the exactly-once sink with its outbox and rollups, backfill and queries."""
