"""Vectors stored with each history item: written at ingest, read by requests, filled
in for stores written before they existed; retrieval itself is unchanged."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import func, select, text

from embeddings.embedder import Embedder, HashEmbedder
from embeddings.history import HistoryService, embedding_text
from embeddings.items import HistoryItem
from embeddings.store import HistoryRow, ItemVectorsRow
from gateway.auth import get_or_create_tenant
from gateway.core.db import Database
from gateway.usecases.replies.personal import load_user_context
from gateway.usecases.replies.vectors import Vectors
from guardrails.emailtext import bare_reply
from tests.keys import keyring

TOPICS = ["meeting friday afternoon", "invoice payment overdue", "lunch tomorrow noon",
          "project deadline extension", "holiday vacation plans", "server outage incident"]


class Counting(Embedder):
    """The hash embedder, recording every text it is asked to embed."""

    def __init__(self):
        super().__init__(batch_size=256)
        self._hash = HashEmbedder()
        self.dim, self.name = self._hash.dim, self._hash.name
        self.seen: list[str] = []

    def embed_batch(self, texts):
        self.seen.extend(texts)
        return self._hash.embed_batch(texts)


def items(n: int = 12) -> list[HistoryItem]:
    return [HistoryItem(id=f"r{i}", kind="sent_reply",
                        text=f"Hi Sam,\nsure, about the {TOPICS[i % 6]} ({i}).\nCheers, Ann",
                        context=f"Can we talk about the {TOPICS[i % 6]} item {i}?"
                          if i % 4 else None)
            for i in range(n)]


@pytest.fixture
def env(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    db.create_all()
    tenant = get_or_create_tenant(db, "acme")
    made = []

    def service(embedder=None) -> HistoryService:
        svc = HistoryService(db=db, embedder=embedder or Counting(), keys=keyring(db),
                             index_dir=tmp_path / "index", reply_text=bare_reply)
        svc.open()
        made.append(svc)
        return svc

    yield service, db, tenant
    for svc in made:
        svc.close()
    db.close()


def vector_rows(db) -> dict[int, tuple]:
    """pk -> (model, context vector, reply vector), opened (they are stored sealed)."""
    keys = keyring(db)
    with db.session() as s:
        rows = s.execute(select(ItemVectorsRow, HistoryRow.tenant_id, HistoryRow.user_id)
                         .join(HistoryRow, HistoryRow.pk == ItemVectorsRow.pk)).all()
    return {r.pk: (r.model, keys.open(t, u, r.context), keys.open(t, u, r.reply))
            for r, t, u in rows}


def test_ingest_stores_context_and_reply_vectors_with_each_item(env):
    service, db, tenant = env
    svc = service()
    its = items()
    svc.add(tenant, "ann", its)
    ref = HashEmbedder()
    got = {r.id: r for r in svc.retrieve(tenant, "ann", "invoice payment", k=len(its),
                                         with_vectors=True)}
    assert len(got) == len(its) == len(vector_rows(db))
    for it in its:
        r = got[it.id]
        np.testing.assert_allclose(r.reply_vec, ref.embed_one(bare_reply(it.text)), atol=1e-6)
        if it.context:
            np.testing.assert_allclose(r.context_vec, ref.embed_one(it.context), atol=1e-6)
        else:
            assert r.context_vec is None
    # Without asking, no vectors are read.
    assert all(r.reply_vec is None for r in svc.retrieve(tenant, "ann", "invoice", k=3))


def test_load_user_context_embeds_nothing_but_what_the_request_brings(env):
    """Regression: every request re-embedded the retrieved contexts and replies, and
    retrieve embedded the query a second time."""
    service, _db, tenant = env
    emb = Counting()
    svc = service(emb)
    svc.add(tenant, "ann", items())
    query = "Can we talk about the invoice payment overdue?"
    vectors = Vectors(emb)
    vectors.matrix([query])
    emb.seen.clear()
    ctx = load_user_context(SimpleNamespace(history=svc), tenant_id=tenant, user_id="ann",
                            query=query, vectors=vectors, signature=None)
    assert emb.seen == []
    assert ctx.pairs and ctx.voice
    # The same similarities and voice vectors as embedding the texts directly.
    ref = HashEmbedder()
    qv = ref.embed_one(query)
    by_id = {it.id: it for it in items()}
    for p in ctx.pairs:
        if by_id[p.id].context:
            assert p.similarity == pytest.approx(float(ref.embed_one(p.context) @ qv), abs=1e-5)
    np.testing.assert_allclose(vectors.matrix(ctx.voice), ref.embed(ctx.voice), atol=1e-6)
    assert emb.seen == []


def test_a_store_written_before_stored_vectors_is_upgraded_at_open(env, caplog):
    service, db, tenant = env
    svc = service()
    svc.add(tenant, "ann", items())
    svc.add(tenant, "bob", items(5))
    before = vector_rows(db)
    svc.close()
    with db.engine.begin() as c:  # what an old store looks like: no such table
        c.execute(text("DROP TABLE history_vectors"))
    db.create_all()  # start-up creates the missing table
    with caplog.at_level(logging.INFO, logger="embeddings.history"):
        svc = service()
    assert svc.open_report["vectors_filled"] == 17
    assert "request vectors: 17/17 items" in caplog.text
    assert vector_rows(db) == before
    assert service().open_report["vectors_filled"] == 0  # once


def test_a_model_swap_refills_the_stored_vectors(env):
    service, db, tenant = env
    service().add(tenant, "ann", items(4))
    svc = service(HashEmbedder(dim=64))
    assert svc.open_report["vectors_filled"] == 4
    assert {m for m, _, _ in vector_rows(db).values()} == {"hash:64:64"}
    hit = svc.retrieve(tenant, "ann", "invoice", k=1, with_vectors=True)[0]
    assert hit.reply_vec.shape == (64,)


def test_deleting_a_user_deletes_their_stored_vectors(env):
    service, db, tenant = env
    svc = service()
    svc.add(tenant, "ann", items(4))
    svc.add(tenant, "bob", items(3))
    svc.delete_user(tenant, "ann")
    with db.session() as s:
        left = s.scalar(select(func.count(ItemVectorsRow.pk)))
        bob = s.scalar(select(func.count(HistoryRow.pk)).where(HistoryRow.user_id == "bob"))
    assert left == bob == 3


def test_retrieval_ranks_as_before_and_a_passed_query_vector_changes_nothing(env):
    """The indexed vector is still ``embedding_text`` of the item: top-k is the exact
    cosine ranking over those, whether retrieve embeds the query or is handed it."""
    service, _db, tenant = env
    svc = service()
    its = items()
    svc.add(tenant, "ann", its)
    ref = HashEmbedder()
    index_vecs = ref.embed([embedding_text(it) for it in its])
    ids = [it.id for it in its]
    for query in ["invoice payment", "friday meeting", "vacation plans holiday", "outage"]:
        qv = ref.embed_one(query)
        scores = index_vecs @ qv
        got = svc.retrieve(tenant, "ann", query, k=5)
        handed = svc.retrieve(tenant, "ann", query, k=5, query_vec=qv, with_vectors=True)
        assert [r.id for r in got] == [r.id for r in handed]
        assert [r.score for r in got] == pytest.approx(sorted(scores, reverse=True)[:5],
                                                       abs=1e-5)
        for r in got:
            assert r.score == pytest.approx(float(scores[ids.index(r.id)]), abs=1e-5)
