"""The per-user FAISS indexes: repair on open, corruption, orphans, LRU, model swap."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.embedder import HashEmbedder
from embeddings.history import HistoryService
from embeddings.index import UserIndex, index_path, read_header, read_snapshot, write_snapshot
from embeddings.items import HistoryItem
from gateway.auth import get_or_create_tenant
from gateway.core.db import Database
from tests.keys import keyring

TOPICS = ["meeting friday afternoon", "invoice payment overdue", "lunch tomorrow noon",
          "project deadline extension", "holiday vacation plans", "server outage incident"]


def items(prefix: str, n: int = 6) -> list[HistoryItem]:
    return [HistoryItem(id=f"{prefix}-{i}", kind="sent_reply",
                        text=f"reply about {TOPICS[i % len(TOPICS)]} number {i}")
            for i in range(n)]


@pytest.fixture
def env(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    db.create_all()
    tenant = get_or_create_tenant(db, "acme")
    made = []

    def service(**kw) -> HistoryService:
        kw.setdefault("embedder", HashEmbedder())
        svc = HistoryService(db=db, index_dir=tmp_path / "index", keys=keyring(db), **kw)
        svc.open()
        made.append(svc)
        return svc

    yield service, tenant, tmp_path / "index"
    for svc in made:
        svc.close()
    db.close()


def top_id(svc, tenant, user, query):
    hits = svc.retrieve(tenant, user, query, k=1)
    return hits[0].id if hits else None


def store_pks(svc, tenant, user) -> list[int]:
    pks, _ = svc.store.embeddings(tenant, user, dim=svc.embedder.dim)
    return pks.tolist()


def snapshot_ids(index_dir, tenant, user, svc) -> list[int]:
    idx = read_snapshot(index_path(index_dir, tenant, user), dim=svc.embedder.dim,
                        model=svc.indexes.model, unseal=lambda b: svc.keys.open(tenant, user, b))
    return sorted(idx.ids().tolist())


def test_missing_snapshot_is_rebuilt_on_open(env):
    service, tenant, index_dir = env
    svc = service()
    svc.add(tenant, "u1", items("a"))
    svc.close()
    path = index_path(index_dir, tenant, "u1")
    assert path.exists()
    path.unlink()

    svc2 = service()
    assert svc2.open_report["repaired"] == 1
    assert path.exists()  # rebuilt from stored embeddings, before any request
    assert snapshot_ids(index_dir, tenant, "u1", svc2) == store_pks(svc2, tenant, "u1")
    assert top_id(svc2, tenant, "u1", "invoice payment overdue") == "a-1"


def test_stale_snapshot_is_caught_up_on_open(env):
    service, tenant, index_dir = env
    svc = service(snapshot_every=1)
    svc.add(tenant, "u1", items("a", 3))
    lazy = service(snapshot_every=10_000)
    lazy.add(tenant, "u1", items("b", 4))  # committed; snapshot not written (as if killed)
    path = index_path(index_dir, tenant, "u1")
    assert read_header(path).count == 3

    svc2 = service()
    assert svc2.open_report["repaired"] == 1
    assert read_header(path).count == 7
    assert snapshot_ids(index_dir, tenant, "u1", svc2) == store_pks(svc2, tenant, "u1")


@pytest.mark.parametrize("damage", ["garbage", "truncate", "flip_payload"])
def test_corrupt_snapshot_is_rebuilt_and_retrieval_stays_correct(env, damage):
    service, tenant, index_dir = env
    svc = service()
    svc.add(tenant, "u1", items("a"))
    expected = top_id(svc, tenant, "u1", "holiday vacation plans")
    assert expected == "a-4"
    svc.close()
    path = index_path(index_dir, tenant, "u1")
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data = bytearray(b"\x00garbage" * 10)
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:  # header intact, payload bytes changed: only the CRC can tell
        for i in range(len(data) - 200, len(data) - 100):
            data[i] ^= 0xFF
    path.write_bytes(bytes(data))

    svc2 = service()
    assert top_id(svc2, tenant, "u1", "holiday vacation plans") == expected
    assert svc2.index_ids(tenant, "u1") == store_pks(svc2, tenant, "u1")
    assert svc2.open_report["repaired"] + svc2.indexes.repairs >= 1
    svc2.close()
    assert snapshot_ids(index_dir, tenant, "u1", svc2) == store_pks(svc2, tenant, "u1")


def test_orphan_snapshots_and_temp_files_are_removed_on_open(env):
    service, tenant, index_dir = env
    svc = service()
    ghost = UserIndex(384)
    ghost.add(np.array([99], dtype=np.int64), np.ones((1, 384), dtype=np.float32) / 384 ** 0.5)
    write_snapshot(index_path(index_dir, tenant, "ghost"), ghost, model=svc.indexes.model,
                   seal=svc.keys.writer(tenant, "ghost").seal)
    tmp = index_dir / f"t{tenant}" / ".half-written.pgx.123.tmp"
    tmp.write_bytes(b"partial")
    svc2 = service()
    assert svc2.open_report["orphans_removed"] == 1
    assert not index_path(index_dir, tenant, "ghost").exists()
    assert not tmp.exists()


def test_index_follows_rows_written_by_another_process(env):
    service, tenant, _ = env
    server, cli = service(), service()
    server.add(tenant, "u1", items("a", 2))
    assert len(server.index_ids(tenant, "u1")) == 2  # the server now has u1's index cached
    cli.add(tenant, "u1", [HistoryItem(id="new", kind="note", text="lunch tomorrow noon")])
    assert top_id(server, tenant, "u1", "lunch tomorrow noon") == "new"
    cli.delete_user(tenant, "u1")
    assert server.retrieve(tenant, "u1", "lunch tomorrow noon") == []
    server.close()  # must not write the deleted user's vectors back to disk
    assert not any(index_path(server.index_dir, tenant, "u1").parent.glob("*.pgx"))


def test_lru_keeps_memory_bounded_and_results_right(env):
    service, tenant, _ = env
    svc = service(cache_mb=1)  # ~600 vectors of 384 floats
    users = [f"user{i}" for i in range(8)]
    for u in users:
        svc.add(tenant, u, items(u, 150))
    for u in users:
        assert top_id(svc, tenant, u, "reply about invoice payment overdue number 7") == f"{u}-7"
        assert svc.indexes.loaded_bytes() <= 2**20
    assert len(svc.indexes._cache) < len(users)


def test_model_swap_reembeds_and_rebuilds(env):
    service, tenant, index_dir = env
    svc = service(embedder=HashEmbedder(dim=384))
    svc.add(tenant, "u1", items("a"))
    svc.close()
    swapped = service(embedder=HashEmbedder(dim=128))
    assert swapped.open_report["reembedded"] == 6
    assert swapped.open_report["repaired"] == 1
    assert read_header(index_path(index_dir, tenant, "u1")).dim == 128
    assert top_id(swapped, tenant, "u1", "server outage incident") == "a-5"


def test_user_index_removes_by_id():
    idx = UserIndex(4)
    vecs = np.eye(4, dtype=np.float32)
    idx.add(np.array([10, 11, 12, 13], dtype=np.int64), vecs)
    assert idx.search(vecs[1], 1)[0][0] == 11
    assert idx.remove(np.array([11], dtype=np.int64)) == 1
    assert 11 not in [pk for pk, _ in idx.search(vecs[1], 4)]
    assert sorted(idx.ids().tolist()) == [10, 12, 13]


def test_concurrent_writers_and_readers_leave_index_and_store_in_agreement(env):
    import threading

    service, tenant, _ = env
    svc = service(snapshot_every=7)
    errors: list[BaseException] = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
                errors.append(exc)
        return run

    def writer(w: int):
        for b in range(10):
            svc.add(tenant, "u1", [HistoryItem(id=f"w{w}-{b}-{j}", kind="note",
                                               text=f"writer {w} batch {b} item {j}")
                                   for j in range(5)])

    def reader():
        for _ in range(30):
            assert len(svc.retrieve(tenant, "u1", "writer batch item", k=3)) <= 3

    threads = [threading.Thread(target=guarded(lambda w=w: writer(w))) for w in range(4)]
    threads += [threading.Thread(target=guarded(reader)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    cached = svc.indexes._cache[(tenant, "u1")]  # as the threads left it (no new sync)
    assert sorted(cached.ids().tolist()) == store_pks(svc, tenant, "u1")
    assert len(store_pks(svc, tenant, "u1")) == 200
