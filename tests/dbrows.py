"""Look through every table's rows, on either engine (for "nothing stored" checks)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.core.db import Base


def rows_with(db, marker: str) -> list:
    """Every row of every table that holds ``marker`` (the rows as text)."""
    with db.session() as s:
        return [(t.name, row) for t in Base.metadata.sorted_tables
                for row in s.execute(select(t)).all() if marker in repr(tuple(row))]
