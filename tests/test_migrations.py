"""Schema revisions: a new database starts at head, a pre-Alembic data dir is adopted,
an out-of-date database is refused until ``persona db upgrade``."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

from gateway import schema
from gateway.cli import app as cli
from gateway.core.db import Base, Database
from gateway.core.errors import SchemaOutOfDate
from gateway.storage import create_tables
from tests.test_schema_upgrade import OLD_SCHEMA

SECOND = '''"""Test-only: a column added after the baseline."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"


def upgrade():
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("note")
'''


@pytest.fixture
def db(tmp_path):
    d = Database(tmp_path / "data" / "persona.sqlite3")
    yield d
    d.close()


@pytest.fixture
def newer_migrations(tmp_path):
    """The gateway's migrations plus one more revision, as a newer gateway would ship."""
    where = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, where, ignore=shutil.ignore_patterns("__pycache__"))
    (where / "versions" / "9999_note.py").write_text(SECOND.replace("{head}", schema.head_revision()))
    return where


def test_a_new_database_is_created_at_head(db):
    create_tables(db)
    assert schema.current_revision(db) == schema.head_revision()
    assert {"tenants", "history_items", "history_vectors", "generations", "feedback",
            "user_preferences", "api_keys", "explanations", "user_keys",
            "seal_pending"} <= set(inspect(db.engine).get_table_names())


def test_the_baseline_migration_builds_exactly_the_models(db):
    with db.engine.begin() as conn:  # the migrations alone, no create_all
        command.upgrade(schema._config(conn, schema.MIGRATIONS), "head")
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_a_pre_alembic_data_dir_is_upgraded_in_place_and_stamped(tmp_path):
    path = tmp_path / "old" / "persona.sqlite3"
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    conn.close()
    db = Database(path)
    try:
        create_tables(db)  # stamped as the baseline, then upgraded (a SQLite file)
        assert schema.current_revision(db) == schema.head_revision()
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            assert conn.exec_driver_sql("SELECT request_id FROM generations").scalars().all() \
                == ["req-old"]
    finally:
        db.close()


def test_an_out_of_date_database_is_refused_until_upgraded(db, newer_migrations):
    create_tables(db)  # at this gateway's head, made by it
    with pytest.raises(SchemaOutOfDate) as exc:
        create_tables(db, migrations=newer_migrations)
    assert "persona db upgrade" in exc.value.message
    assert schema.head_revision() in exc.value.message
    assert schema.upgrade(db, migrations=newer_migrations) == "9999"
    assert "note" in {c["name"] for c in inspect(db.engine).get_columns("tenants")}
    create_tables(db, migrations=newer_migrations)  # now it starts


def test_a_start_on_an_out_of_date_database_names_the_command(tmp_path, monkeypatch,
                                                               newer_migrations):
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "data"))
    head = schema.head_revision()  # this gateway's
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    monkeypatch.setattr(schema, "MIGRATIONS", newer_migrations)  # a newer gateway's code
    result = runner.invoke(cli, ["keys", "list"])
    assert result.exit_code == 2
    assert "run `persona db upgrade`" in " ".join(result.output.split())
    current = runner.invoke(cli, ["db", "current"])
    assert current.exit_code == 1 and f"database: {head}" in current.output
    up = runner.invoke(cli, ["db", "upgrade"])
    assert up.exit_code == 0 and f"revision 9999 (was {head})" in up.output
    assert runner.invoke(cli, ["keys", "list"]).exit_code == 0
    assert runner.invoke(cli, ["db", "current"]).exit_code == 0
