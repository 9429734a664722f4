"""Data dirs from before per-tenant keys are upgraded in place at start."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import create_key
from gateway.core.db import Database
from gateway.schema_upgrade import upgrade_schema
from gateway.storage import create_tables
from tests.conftest import wait_ready

# The layout every data dir had before issue #12, as SQLAlchemy wrote it.
OLD_SCHEMA = """
CREATE TABLE tenants (
    id INTEGER NOT NULL, name VARCHAR(64) NOT NULL, created_at DATETIME NOT NULL,
    PRIMARY KEY (id), UNIQUE (name));
CREATE TABLE generations (
    request_id VARCHAR(64) NOT NULL, tenant_id INTEGER NOT NULL, user_id VARCHAR(128),
    task VARCHAR(32) NOT NULL, input_text TEXT NOT NULL, outputs JSON NOT NULL,
    model VARCHAR(128), prompt_version VARCHAR(64), created_at DATETIME NOT NULL,
    PRIMARY KEY (request_id),
    FOREIGN KEY(tenant_id) REFERENCES tenants (id) ON DELETE CASCADE);
CREATE INDEX ix_generations_user_id ON generations (user_id);
CREATE INDEX ix_generations_tenant_id ON generations (tenant_id);
CREATE TABLE feedback (
    id INTEGER NOT NULL, tenant_id INTEGER NOT NULL, user_id VARCHAR(128),
    request_id VARCHAR(64) NOT NULL, "index" INTEGER NOT NULL, event VARCHAR(16) NOT NULL,
    final_text TEXT, created_at DATETIME NOT NULL, PRIMARY KEY (id),
    CONSTRAINT uq_feedback_event UNIQUE (request_id, "index", event),
    FOREIGN KEY(tenant_id) REFERENCES tenants (id) ON DELETE CASCADE);
CREATE INDEX ix_feedback_user_id ON feedback (user_id);
CREATE INDEX ix_feedback_tenant_id ON feedback (tenant_id);
INSERT INTO tenants VALUES (1, 'acme', '2024-01-01 00:00:00'), (2, 'other-co', '2024-01-01 00:00:00');
INSERT INTO generations VALUES
    ('req-old', 1, 'u1', 'smart_reply', 'Can we meet Friday?', '["Friday works.", "No."]',
     'fake/test', 'smart_reply_v1', '2024-01-02 00:00:00');
INSERT INTO feedback VALUES (1, 1, 'u1', 'req-old', 1, 'shown', NULL, '2024-01-02 00:00:01');
"""


@pytest.fixture
def settings(settings):
    # The old rows are from 2024: keep retention (and the feedback window) from purging
    # them at start, so the upgrade itself is what is tested.
    return settings.model_copy(update={"retention_days": 3650, "feedback_window_days": 3650})


@pytest.fixture
def old_data_dir(settings):
    settings.data_dir.mkdir(parents=True)
    with sqlite3.connect(settings.db_path) as conn:
        conn.executescript(OLD_SCHEMA)
    conn.close()
    return settings


def layout(db_path, table):
    with sqlite3.connect(db_path) as conn:
        cols = conn.execute(f"PRAGMA table_info({table})").fetchall()
        pk = [c[1] for c in sorted((c for c in cols if c[5]), key=lambda c: c[5])]
        uniques = []
        for idx in conn.execute(f"PRAGMA index_list({table})").fetchall():
            if idx[2] and idx[3] != "pk":
                uniques.append([i[2] for i in conn.execute(f"PRAGMA index_info('{idx[1]}')")])
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    conn.close()
    return pk, uniques, rows


def test_an_old_data_dir_is_upgraded_and_keeps_its_rows(old_data_dir, fake):
    settings = old_data_dir
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        services = client.app.state.services
        auth_a = {"Authorization": f"Bearer {create_key(services.db, tenant='acme', scope='admin')}"}
        auth_b = {"Authorization":
                  f"Bearer {create_key(services.db, tenant='other-co', scope='admin')}"}
        # The old row is still served to its tenant, and only to it.
        sent = {"request_id": "req-old", "index": 0, "event": "sent"}
        assert client.post("/v1/feedback", headers=auth_a, json=sent).status_code == 202
        assert client.post("/v1/feedback", headers=auth_b, json=sent).status_code == 404
        items = client.get("/v1/users/u1/history", headers=auth_a).json()["items"]
        assert [(i["text"], i["context"]) for i in items] == [
            ("Friday works.", "Can we meet Friday?")]

    pk, _, gens = layout(settings.db_path, "generations")
    assert pk == ["tenant_id", "request_id"]
    assert [(g[0], g[1]) for g in gens] == [(1, "req-old")]
    _, uniques, fbs = layout(settings.db_path, "feedback")
    assert uniques == [["tenant_id", "request_id", "index", "event"]]
    assert sorted((f[1], f[3], f[4], f[5]) for f in fbs) == [
        (1, "req-old", 0, "sent"), (1, "req-old", 1, "shown")]

    # The new keys hold: the same request id and event now fit in another tenant.
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("INSERT INTO generations (tenant_id, request_id, task, input_text, outputs,"
                     " created_at) VALUES (2, 'req-old', 'smart_reply', '', '[]', '2024-01-03')")
        conn.execute("INSERT INTO feedback (tenant_id, request_id, \"index\", event, created_at)"
                     " VALUES (2, 'req-old', 1, 'shown', '2024-01-03')")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO generations (tenant_id, request_id, task, input_text,"
                         " outputs, created_at) VALUES (2, 'req-old', 'x', '', '[]', '2024')")
    conn.close()


def objects(db_path):
    """Tables and indexes of the two upgraded tables, as a fresh data dir has them."""
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name FROM sqlite_master"
                            " WHERE tbl_name IN ('generations', 'feedback')").fetchall()
    conn.close()
    return sorted(rows)


def test_the_upgrade_runs_once_and_matches_a_new_data_dir(old_data_dir, tmp_path):
    db = Database(old_data_dir.db_path)
    fresh = Database(tmp_path / "fresh" / "p.sqlite3")
    try:
        create_tables(db)  # upgrades
        assert upgrade_schema(db.engine) == []
        create_tables(fresh)
        assert upgrade_schema(fresh.engine) == []
    finally:
        db.close()
        fresh.close()
    assert objects(old_data_dir.db_path) == objects(fresh.path)


def test_a_failed_upgrade_leaves_the_old_layout_whole(old_data_dir, monkeypatch):
    from gateway import schema_upgrade

    real = schema_upgrade._rebuild

    def fail_on_feedback(cur, engine, table, old_cols):
        if table.name == "feedback":
            raise RuntimeError("disk full")
        real(cur, engine, table, old_cols)

    monkeypatch.setattr(schema_upgrade, "_rebuild", fail_on_feedback)
    db = Database(old_data_dir.db_path)
    try:
        with pytest.raises(RuntimeError):
            create_tables(db)
    finally:
        db.close()
    pk, _, gens = layout(old_data_dir.db_path, "generations")
    assert pk == ["request_id"] and len(gens) == 1  # generations' rebuild was rolled back
    _, uniques, fbs = layout(old_data_dir.db_path, "feedback")
    assert uniques == [["request_id", "index", "event"]] and len(fbs) == 1
