"""In-place upgrade of data dirs written before records were keyed per tenant.

``create_all`` makes missing tables but never alters existing ones, so
``gateway.storage.create_tables`` calls this after it. Data dirs from before issue #12
have ``generations`` keyed by ``request_id`` alone and a ``feedback`` unique
constraint without ``tenant_id``. At start, each table whose
primary key or unique constraints differ from the model is rebuilt the way SQLite
documents it (create the new table, copy the rows, drop the old, rename), all
tables in one transaction: a crash midway leaves the old layout whole.

Small on purpose: a stop-gap until schema changes go through migrations.
"""

from __future__ import annotations

import logging

from sqlalchemy import MetaData, Table, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from gateway.tables import Feedback, Generation

log = logging.getLogger(__name__)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _layout(cur, name: str) -> tuple[tuple[str, ...], set[tuple[str, ...]], list[str]] | None:
    """(primary-key columns, unique column sets, column names) of a table on disk."""
    cols = cur.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
    if not cols:
        return None
    pk = tuple(c[1] for c in sorted((c for c in cols if c[5]), key=lambda c: c[5]))
    uniques = set()
    for idx in cur.execute(f"PRAGMA index_list({_quote(name)})").fetchall():
        if idx[2] and idx[3] != "pk":  # unique, and not the primary key's own index
            info = cur.execute(f"PRAGMA index_info({_quote(idx[1])})").fetchall()
            uniques.add(tuple(i[2] for i in sorted(info)))
    return pk, uniques, [c[1] for c in cols]


def _model_layout(table: Table) -> tuple[tuple[str, ...], set[tuple[str, ...]]]:
    pk = tuple(c.name for c in table.primary_key.columns)
    uniques = {tuple(c.name for c in con.columns) for con in table.constraints
               if isinstance(con, UniqueConstraint)}
    uniques |= {tuple(c.name for c in ix.columns) for ix in table.indexes if ix.unique}
    return pk, uniques


def _stale(cur, table: Table) -> list[str] | None:
    """The on-disk column names when ``table`` needs a rebuild, else None."""
    disk = _layout(cur, table.name)
    if disk is None:
        return None
    pk, uniques, cols = disk
    want_pk, want_uniques = _model_layout(table)
    if pk == want_pk and uniques == want_uniques:
        return None
    return cols


def _rebuild(cur, engine: Engine, table: Table, old_cols: list[str]) -> None:
    scratch = MetaData()
    for fk in table.foreign_keys:  # the copy's foreign keys must resolve in its metadata
        fk.column.table.to_metadata(scratch)
    tmp = table.to_metadata(scratch, name=f"_new_{table.name}")
    cur.execute(str(CreateTable(tmp).compile(engine)))
    shared = ", ".join(_quote(c.name) for c in table.columns if c.name in old_cols)
    cur.execute(f"INSERT INTO {_quote(tmp.name)} ({shared}) "
                f"SELECT {shared} FROM {_quote(table.name)}")
    cur.execute(f"DROP TABLE {_quote(table.name)}")  # drops its indexes too
    cur.execute(f"ALTER TABLE {_quote(tmp.name)} RENAME TO {_quote(table.name)}")
    for index in table.indexes:
        cur.execute(str(CreateIndex(index).compile(engine)))


def upgrade_schema(engine: Engine) -> list[str]:
    """Bring old-layout tables to the current keys; returns the names of rebuilt tables.

    A row that breaks a new key cannot exist (the new keys are wider than the old),
    so copying never drops data. Cheap when there is nothing to do (a few PRAGMAs)."""
    tables = [Generation.__table__, Feedback.__table__]
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        legacy = conn.isolation_level
        conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves, so the DDL is inside
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            rebuilt = []
            try:
                for table in tables:
                    old_cols = _stale(cur, table)
                    if old_cols is not None:
                        _rebuild(cur, engine, table, old_cols)
                        rebuilt.append(table.name)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        finally:
            cur.close()
            conn.isolation_level = legacy
    finally:
        raw.close()
    if rebuilt:
        log.warning("upgraded the schema of %s to per-tenant keys", ", ".join(rebuilt))
    return rebuilt
