"""Flask blueprints of the HTTP API (health now; the open ingest platform later)."""
