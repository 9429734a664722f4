"""Envelope encryption (issue #15, "forget stays final"): every per-user text and vector
is stored sealed with the user's data key; forget destroys the key; master keys come
from settings (or the embedded default's key file) and are checked at start."""

from __future__ import annotations

import os
import stat
import threading
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from embeddings.embedder import HashEmbedder
from embeddings.index import index_path
from embeddings.store import HistoryRow, ItemVectorsRow
from gateway.app import create_app
from gateway.auth import create_key, get_or_create_tenant
from gateway.cli import app as cli
from gateway.core.crypto import (
    MAGIC,
    KeyDestroyed,
    WrongMasterKey,
    new_master_key,
    sealed_key_id,
)
from gateway.core.errors import ConfigError
from gateway.core.keyring import Keyring, UserKeyRow
from gateway.core.settings import Settings
from gateway.services import build_services
from gateway.tables import Explanation, Feedback, Generation, UserPreferences
from tests.conftest import wait_ready
from tests.dbrows import rows_with
from tests.smart_reply_helpers import MEETING, body


def _marker() -> str:
    return f"zq{uuid.uuid4().hex}zq"


def _ingest(client, auth, marker: str, user: str = "u1") -> None:
    items = [{"id": "m1", "kind": "sent_reply", "text": f"friday works {marker}",
              "context": f"can we meet friday {marker}", "subject": f"re: {marker}"},
             {"id": "m2", "kind": "sent_reply", "text": "unrelated words"}]
    r = client.post(f"/v1/users/{user}/history", headers=auth, json={"items": items})
    assert r.status_code == 200, r.text


def _use_everything(client, auth, fake, marker: str) -> str:
    """History, a signature, a smart reply mentioning the marker, feedback on it."""
    _ingest(client, auth, marker)
    r = client.put("/v1/users/u1/preferences", headers=auth,
                   json={"personalization": True, "signature": f"Sam {marker}"})
    assert r.status_code == 200
    fake.enqueue(f"1. Friday works {marker}\n2. Sure thing\n3. Can't, sorry")
    msg = dict(MEETING, body=f"Can we move it to Friday? {marker}")
    r = client.post("/v1/smart-replies", headers=auth, json=body(msg, explain=True))
    assert r.status_code == 200, r.text
    rid = r.json()["request_id"]
    r = client.post("/v1/feedback", headers=auth, json={
        "request_id": rid, "index": 0, "event": "edited", "final_text": f"edited {marker}"})
    assert r.status_code == 202, r.text
    return rid


@pytest.mark.both_backends
def test_texts_and_vectors_are_stored_sealed_and_read_back(client, auth, fake, services):
    marker = _marker()
    rid = _use_everything(client, auth, fake, marker)
    # Read back through the API: plaintext.
    items = client.get("/v1/users/u1/history", headers=auth).json()["items"]
    assert {i["text"] for i in items} >= {f"friday works {marker}", f"edited {marker}"}
    assert client.get("/v1/users/u1/preferences", headers=auth).json()["signature"] \
        == f"Sam {marker}"
    why = client.get(f"/v1/requests/{rid}", headers=auth)
    assert why.status_code == 200 and why.json()["user_id"] == "u1"
    tenant = get_or_create_tenant(services.db, "acme")
    hits = services.history.retrieve(tenant, "u1", f"friday works {marker}", k=1,
                                     with_vectors=True)
    assert hits[0].text == f"friday works {marker}"
    np.testing.assert_allclose(hits[0].reply_vec, HashEmbedder().embed_one(
        f"friday works {marker}"), atol=1e-6)
    # At rest: no row of any table holds the marker, every vector is sealed.
    assert rows_with(services.db, marker) == []
    with services.db.session() as s:
        blobs = [b for r in s.scalars(select(HistoryRow)) for b in (r.embedding,)]
        blobs += [b for r in s.scalars(select(ItemVectorsRow)) for b in (r.context, r.reply) if b]
        assert blobs and all(b.startswith(MAGIC) for b in blobs)
        assert s.get(Generation, (tenant, rid)).outputs.startswith("enc1:")
        assert s.get(Explanation, (tenant, rid)).data.startswith("enc1:")
        assert s.scalars(select(Feedback.final_text)).one().startswith("enc1:")
        assert s.get(UserPreferences, (tenant, "u1")).signature.startswith("enc1:")


def test_index_snapshots_hold_no_plain_vectors(client, auth, services, settings):
    marker = _marker()
    _ingest(client, auth, marker)
    services.history.close()  # writes the snapshot
    tenant = get_or_create_tenant(services.db, "acme")
    raw = index_path(settings.index_dir, tenant, "u1").read_bytes()
    with services.db.session() as s:
        pks = list(s.scalars(select(HistoryRow.pk)))
    pks_sealed_vecs = services.history.store.embeddings(tenant, "u1", dim=384)[1]
    assert len(pks) == len(pks_sealed_vecs) == 2
    for v in pks_sealed_vecs:  # not one plain float32 vector (nor a slice of one) on disk
        assert v.astype(np.float32).tobytes()[:64] not in raw


@pytest.mark.both_backends
def test_forget_destroys_the_key_so_leftover_ciphertext_cannot_be_opened(client, auth, fake,
                                                                        services):
    marker = _marker()
    _use_everything(client, auth, fake, marker)
    tenant = get_or_create_tenant(services.db, "acme")
    with services.db.session() as s:  # what a WAL, a dead tuple or a backup would keep
        leftover = s.scalars(select(HistoryRow.text).where(HistoryRow.user_id == "u1")).all()
    assert leftover and all(t.startswith("enc1:") for t in leftover)
    assert client.delete("/v1/users/u1", headers=auth).status_code == 204
    with services.db.session() as s:
        assert s.get(UserKeyRow, (tenant, "u1")) is None
    for text in leftover:
        with pytest.raises(KeyDestroyed):
            services.keys.open_text(tenant, "u1", text)
    # A new key for a returning user never opens the old values.
    _ingest(client, auth, _marker())
    with pytest.raises(KeyDestroyed):
        services.keys.open_text(tenant, "u1", leftover[0])


@pytest.mark.both_backends
def test_two_replicas_creating_a_first_key_at_once_end_with_one(services):
    tenant = get_or_create_tenant(services.db, "acme")
    replicas = [Keyring(services.db, services.keys.master) for _ in range(4)]
    got, start = [], threading.Barrier(len(replicas))

    def create(k):
        start.wait()
        got.append(k.writer(tenant, "racer").key_id)

    threads = [threading.Thread(target=create, args=(k,)) for k in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and len(set(got)) == 1
    with services.db.session() as s:
        assert len(s.scalars(select(UserKeyRow).where(UserKeyRow.user_id == "racer")).all()) == 1


def test_another_replicas_cached_key_misses_after_forget(services):
    """A lookup through replica B misses once A destroyed the key (B's cache here has no
    lifetime left: ``key_cache_ttl_s`` bounds it), and B's writes use a new key."""
    tenant = get_or_create_tenant(services.db, "acme")
    a = services.keys
    b = Keyring(services.db, a.master, ttl_s=0)
    sealed = a.writer(tenant, "u9").seal_text("hello")
    assert b.open_text(tenant, "u9", sealed) == "hello"  # cached in B now
    a.destroy(tenant, "u9")
    with pytest.raises(KeyDestroyed):
        b.open_text(tenant, "u9", sealed)
    assert b.writer(tenant, "u9").key_id != sealed_key_id(sealed)


def test_values_from_before_encryption_are_read_as_they_are_and_sealed_ones_opened(services):
    """The one rule ``open``, ``open_text`` and ``open_json`` share: text is sealed when
    it carries the ``enc1:`` prefix, bytes when they carry the sealed header; anything
    else is plaintext from before encryption (or None) and is returned unchanged."""
    tenant = get_or_create_tenant(services.db, "acme")
    keys, key = services.keys, services.keys.writer(tenant, "u1")
    assert keys.open(tenant, "u1", None) is None
    assert keys.open(tenant, "u1", b"plain bytes") == b"plain bytes"
    assert keys.open(tenant, "u1", memoryview(b"plain")) == b"plain"
    assert keys.open(tenant, "u1", key.seal(b"sealed bytes")) == b"sealed bytes"
    assert keys.open_text(tenant, "u1", None) is None
    assert keys.open_text(tenant, "u1", "plain text") == "plain text"
    assert keys.open_text(tenant, "u1", key.seal_text("sealed text")) == "sealed text"
    assert keys.open_json(tenant, "u1", {"plain": 1}) == {"plain": 1}
    assert keys.open_json(tenant, "u1", "plain json string") == "plain json string"
    assert keys.open_json(tenant, "u1", key.seal_json({"sealed": 1})) == {"sealed": 1}
    # The text marker decides: a marked value that is not a sealed token is never
    # passed off as plaintext.
    with pytest.raises(KeyDestroyed):
        keys.open_text(tenant, "u1", "enc1:" + "QUJDRA==")


def test_embedded_default_makes_a_private_master_key_file(tmp_path, fake):
    s = Settings(data_dir=tmp_path / "data", models=["fake/test"], embedding_model="hash",
                 load_models=False)
    services = build_services(s)
    services.close()
    path = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_text()
    build_services(s).close()
    assert path.read_text() == first  # made once, then reused


def test_postgresql_without_a_master_key_refuses_to_start(tmp_path, postgres):
    with postgres.database() as url:
        s = Settings(data_dir=tmp_path / "data", database_url=url, models=["fake/test"],
                     embedding_model="hash", load_models=False)
        with pytest.raises(ConfigError) as exc:
            build_services(s)
    assert "PERSONA_MASTER_KEYS is not set" in exc.value.message
    assert "persona keys master-new" in exc.value.message


def test_a_wrong_master_key_at_start_is_a_clear_error(tmp_path, monkeypatch, fake):
    data = tmp_path / "data"
    s = Settings(data_dir=data, models=["fake/test"], embedding_model="hash", load_models=False)
    services = build_services(s)
    services.keys.writer(get_or_create_tenant(services.db, "acme"), "u1")
    services.close()
    (data / "master.key").write_text(new_master_key("local1"))  # same id, other key
    with pytest.raises(WrongMasterKey) as exc:
        build_services(s)
    assert "does not unwrap" in exc.value.message and "'local1'" in exc.value.message
    wrong_id = s.model_copy(update={"master_keys": SecretStr(new_master_key("k2"))})
    with pytest.raises(WrongMasterKey) as exc:
        build_services(wrong_id)
    assert "'local1'" in exc.value.message and "PERSONA_MASTER_KEYS" in exc.value.message
    # persona serve stops before listening, with the message, exit 2
    monkeypatch.setenv("PERSONA_DATA_DIR", str(data))
    monkeypatch.setenv("PERSONA_MODELS", '["fake/test"]')
    monkeypatch.setenv("PERSONA_LOAD_MODELS", "false")
    monkeypatch.setenv("PERSONA_EMBEDDING_MODEL", "hash")
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2 and "does not unwrap" in " ".join(result.output.split())


def test_rotation_rewraps_data_keys_and_the_old_master_key_can_go(tmp_path, monkeypatch, fake):
    k1, k2 = new_master_key("k1"), new_master_key("k2")
    data = tmp_path / "data"

    def settings(keys: str) -> Settings:
        return Settings(data_dir=data, models=["fake/test"], embedding_model="hash",
                        load_models=False, master_keys=keys)

    with TestClient(create_app(settings(k1))) as c:
        wait_ready(c)
        auth = {"Authorization": f"Bearer {create_key(c.app.state.services.db, tenant='acme', scope='admin')}"}
        marker = _marker()
        _ingest(c, auth, marker)
    monkeypatch.setenv("PERSONA_DATA_DIR", str(data))
    monkeypatch.setenv("PERSONA_MASTER_KEYS", f"{k2},{k1}")
    result = CliRunner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-wrapped 1 data key(s) under master key 'k2'" in result.output
    with TestClient(create_app(settings(k2))) as c:  # k1 removed
        wait_ready(c)
        auth = {"Authorization": f"Bearer {create_key(c.app.state.services.db, tenant='acme', scope='admin')}"}
        texts = [i["text"] for i in c.get("/v1/users/u1/history", headers=auth).json()["items"]]
        assert f"friday works {marker}" in texts
        with c.app.state.services.db.session() as s:
            assert set(s.scalars(select(UserKeyRow.master_key_id))) == {"k2"}


def _files_with(root, needle: bytes) -> list[str]:
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
            except OSError:  # a file PostgreSQL removed meanwhile
                pass
    return found


def test_forget_leaves_nothing_readable_in_postgres_files_or_redis(tmp_path, fake, postgres,
                                                                    redis_url):
    """A marker ingested as history and sent in a smart-reply request (answered with it,
    cached in Redis, fed back): after forget, a CHECKPOINT and a Redis SAVE, no file of
    the PostgreSQL data directory (WAL included) and no Redis value or dump holds it."""
    import psycopg
    import redis

    marker = _marker()
    with postgres.database() as url:
        s = Settings(data_dir=tmp_path / "data", database_url=url, models=["fake/test"],
                     embedding_model="hash", load_models=False, rate_limit_per_minute=0,
                     master_keys=new_master_key("fleet1"), redis_url=redis_url)
        with TestClient(create_app(s)) as c:
            wait_ready(c)
            key = create_key(c.app.state.services.db, tenant='acme', scope='admin')
            auth = {"Authorization": f"Bearer {key}"}
            _use_everything(c, auth, fake, marker)
            again = c.post("/v1/smart-replies", headers=auth, json=body(
                dict(MEETING, body=f"Can we move it to Friday? {marker}"), explain=True))
            assert again.status_code == 200
            r = redis.Redis.from_url(redis_url)
            assert list(r.scan_iter(match="persona:replies:*"))  # an answer is cached
            assert c.delete("/v1/users/u1", headers=auth).status_code == 204
        plain = url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            conn.execute("SELECT pg_switch_wal()")
    leaks = _files_with(postgres.pgdata, marker.encode())
    assert leaks == [], leaks
    assert _files_with(postgres.pgdata, key[:10].encode())  # the search sees stored bytes
    assert not list(r.scan_iter(match="persona:replies:*:u1:*"))  # deleted on forget
    for key in r.scan_iter():
        assert marker.encode() not in (r.dump(key) or b"")
    r.save()
    dump = os.path.join(r.config_get("dir")["dir"], r.config_get("dbfilename")["dbfilename"])
    with open(dump, "rb") as f:
        assert marker.encode() not in f.read()
    r.close()


def test_an_upgraded_store_has_its_plaintext_sealed_at_the_next_start(tmp_path, fake):
    """A store at revision 0001 (texts and vectors in plaintext) is upgraded with
    ``persona db upgrade``; the next start seals every row, which still reads back."""
    from alembic import command

    from gateway import schema
    from gateway.core.db import Database

    marker = _marker()
    data = tmp_path / "data"
    db = Database(data / "persona.sqlite3")
    with db.engine.begin() as conn:
        command.upgrade(schema._config(conn, schema.MIGRATIONS), "0001")
    tenant = get_or_create_tenant(db, "acme")
    vec = HashEmbedder().embed_one(f"friday works {marker}")
    with db.session() as s:
        s.add(HistoryRow(tenant_id=tenant, user_id="u1", item_id="old-1", kind="sent_reply",
                         text=f"friday works {marker}", context=f"ctx {marker}", subject=None,
                         model="hash:384:384", embedding=vec.tobytes(),
                         vectors=ItemVectorsRow(model="hash:384:384", context=vec.tobytes(),
                                                reply=vec.tobytes())))
        s.add(UserPreferences(tenant_id=tenant, user_id="u1", signature=f"Sam {marker}"))
        s.add(Generation(tenant_id=tenant, request_id="r-old", user_id="u1", task="smart_reply",
                         input_text=f"incoming {marker}", outputs=[f"out {marker}"]))
        s.add(Explanation(tenant_id=tenant, request_id="r-old", user_id="u1",
                          task="smart_reply", data={"note": marker}))
        s.add(Feedback(tenant_id=tenant, user_id="u1", request_id="r-old", index=0,
                       event="edited", final_text=f"final {marker}"))
    with db.session() as ss:  # plaintext, as a store from before encryption holds it
        assert ss.scalars(select(HistoryRow.text)).one() == f"friday works {marker}"
    schema.upgrade(db)  # persona db upgrade
    assert schema.current_revision(db) == schema.head_revision()
    db.close()

    s = Settings(data_dir=data, models=["fake/test"], embedding_model="hash", load_models=False)
    with TestClient(create_app(s)) as c:
        wait_ready(c)
        services = c.app.state.services
        assert rows_with(services.db, marker) == []
        with services.db.session() as ss:
            assert ss.get(HistoryRow, 1).embedding.startswith(MAGIC)
        auth = {"Authorization": f"Bearer {create_key(services.db, tenant='acme', scope='admin')}"}
        items = c.get("/v1/users/u1/history", headers=auth).json()["items"]
        assert [i["text"] for i in items] == [f"friday works {marker}"]
        assert services.history.retrieve(tenant, "u1", f"friday works {marker}")[0].score \
            == pytest.approx(1.0, abs=1e-5)
        with services.db.session() as ss:
            sealed = ss.get(Explanation, (tenant, "r-old")).data
        assert services.keys.open_json(tenant, "u1", sealed) == {"note": marker}
        assert c.get("/v1/users/u1/preferences", headers=auth).json()["signature"] \
            == f"Sam {marker}"
    with TestClient(create_app(s)) as c:  # once: nothing left to seal
        wait_ready(c)
        assert rows_with(c.app.state.services.db, marker) == []


def test_rows_left_by_an_interrupted_forget_answer_410_until_it_is_repeated(client, auth,
                                                                          services):
    _ingest(client, auth, _marker())
    services.keys.destroy(get_or_create_tenant(services.db, "acme"), "u1")  # died after step 1
    r = client.get("/v1/users/u1/history", headers=auth)
    assert r.status_code == 410 and r.json()["error"]["type"] == "gone"
    assert "DELETE /v1/users/u1 again" in r.json()["error"]["message"]
    assert client.delete("/v1/users/u1", headers=auth).status_code == 204
    r = client.get("/v1/users/u1/history", headers=auth)
    assert r.status_code == 200 and r.json()["items"] == []
