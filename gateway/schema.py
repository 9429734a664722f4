"""The database schema's revision: Alembic migrations, and what a start does about them.

``ensure_schema`` runs on every start (``gateway.storage.create_tables``):

- an empty database is created at head (``create_all``, then stamped);
- a data dir from before migrations (tables, no ``alembic_version``) gets the
  stop-gap in-place upgrade of ``gateway.schema_upgrade``, is stamped as the baseline
  and migrated to head (revisions after the baseline skip tables that already exist);
- a database at head starts; one at any other revision is refused with a message
  naming ``persona db upgrade``: a start never migrates on its own, since several
  gateways may share one PostgreSQL and one of them must do it, once.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from gateway.core.db import Base, Database
from gateway.core.errors import SchemaOutOfDate

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"


def _config(conn: Connection, migrations: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision(migrations: Path | None = None) -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations or MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head", *,
            migrations: Path | None = None) -> str | None:
    """Run the migrations up to ``revision`` (``persona db upgrade``); returns the new one."""
    migrations = migrations or MIGRATIONS
    _adopt(db, migrations)
    with db.engine.begin() as conn:
        command.upgrade(_config(conn, migrations), revision)
    return current_revision(db)


def stamp(db: Database, revision: str, *, migrations: Path) -> None:
    with db.engine.begin() as conn:
        command.stamp(_config(conn, migrations), revision)


def _adopt(db: Database, migrations: Path) -> None:
    """Give an unversioned database a revision: head if empty, the baseline if pre-Alembic."""
    tables = set(inspect(db.engine).get_table_names())
    if "alembic_version" in tables and current_revision(db) is not None:
        return
    if not tables - {"alembic_version"}:
        Base.metadata.create_all(db.engine)
        stamp(db, "head", migrations=migrations)
        return
    from gateway.schema_upgrade import upgrade_schema  # the pre-Alembic layouts (SQLite only)

    Base.metadata.create_all(db.engine)  # tables added since that data dir was made
    if db.is_sqlite:
        upgrade_schema(db.engine)
    stamp(db, BASELINE, migrations=migrations)
    if db.is_sqlite:  # one process's own file: the later revisions run now (e.g. their data steps)
        with db.engine.begin() as conn:
            command.upgrade(_config(conn, migrations), "head")


def ensure_schema(db: Database, *, migrations: Path | None = None) -> None:
    """Make a new database at head, adopt a pre-Alembic one, refuse an out-of-date one."""
    migrations = migrations or MIGRATIONS
    _adopt(db, migrations)
    have, want = current_revision(db), head_revision(migrations)
    if have != want:
        where = db.path if db.is_sqlite else db.engine.url.render_as_string(hide_password=True)
        raise SchemaOutOfDate(
            f"the database {where} is at schema revision {have}, this gateway needs {want}: "
            "run `persona db upgrade` (with the same settings) once, then start again")
