"""Alembic environment: the gateway's full metadata, on the connection it is handed.

``gateway.schema.migration_config`` passes the open connection in
``config.attributes["connection"]``; nothing here reads a URL or the environment.
"""

from __future__ import annotations

from alembic import context

import gateway.storage  # noqa: F401  (imports every table module, so the metadata is whole)
from gateway.core.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
