"""The gateway's database: every table module it uses, created and brought up to date.

Table modules declare their tables on ``gateway.core.db.Base`` when imported; this is
the one place that imports all of the gateway's (its own records in ``gateway.tables``,
the history store's in ``embeddings.store``), so the metadata is complete before
``create_all`` (and before Alembic's env reads it). Whoever opens the gateway's store
(``build_services``, the CLI) calls ``create_tables``.
"""

from __future__ import annotations

from pathlib import Path

import embeddings.store  # noqa: F401  (registers history_items, history_vectors)
import gateway.tables  # noqa: F401  (registers tenants, keys, records)
from gateway.core.db import Database


def create_tables(db: Database, *, migrations: Path | None = None) -> None:
    """A new database is made at head, an old data dir adopted, an out-of-date one refused."""
    from gateway import schema

    schema.ensure_schema(db, migrations=migrations)
