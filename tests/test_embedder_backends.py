"""Embedding backends: which one the settings pick, and that a switch between vector
spaces (torch/onnx vs onnx-int8) re-embeds the stored history instead of mixing them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from embeddings.batching import BatchingEmbedder
from embeddings.embedder import (
    HashEmbedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
)
from embeddings.history import HistoryService, model_tag
from embeddings.items import HistoryItem
from embeddings.onnx_export import EmbedderExportError, ensure_onnx
from embeddings.store import HistoryRow, ItemVectorsRow
from gateway.auth import get_or_create_tenant
from gateway.core.db import Database
from gateway.core.settings import Settings, default_embedding_model
from gateway.services import build_services
from tests.keys import keyring

MODEL = default_embedding_model()


@pytest.mark.parametrize("backend, cls", [("torch", SentenceTransformerEmbedder),
                                          ("onnx", OnnxEmbedder), ("onnx-int8", OnnxEmbedder)])
def test_load_embedder_picks_the_backend(tmp_path, backend, cls):
    emb = load_embedder(MODEL, eager=False, backend=backend, cache_dir=tmp_path)
    assert type(emb) is cls
    if cls is OnnxEmbedder:
        assert (emb.backend, emb.cache_dir) == (backend, tmp_path)


def test_unknown_backend_is_refused_by_settings_and_loader(tmp_path):
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings(embedding_backend="tensorrt")
    with pytest.raises(ValueError, match="torch, onnx or onnx-int8"):
        load_embedder(MODEL, eager=False, backend="tensorrt", cache_dir=tmp_path)


def test_hash_embedder_ignores_the_backend(tmp_path):
    assert isinstance(load_embedder("hash", backend="onnx-int8", cache_dir=tmp_path), HashEmbedder)


def test_services_build_the_configured_backend_with_its_cache_dir(tmp_path):
    s = Settings(data_dir=tmp_path / "data", models=["fake/test"], load_models=False,
                 embedding_model=MODEL, embedding_backend="onnx-int8",
                 embedding_cache_dir=tmp_path / "cache")
    svc = build_services(s)
    try:
        emb = svc.embedder.inner if isinstance(svc.embedder, BatchingEmbedder) else svc.embedder
        assert isinstance(emb, OnnxEmbedder)
        assert (emb.backend, emb.cache_dir, emb.max_tokens) == ("onnx-int8", tmp_path / "cache",
                                                                s.embedding_max_tokens)
    finally:
        svc.close()


def test_default_cache_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings().embedder_cache_dir == tmp_path / "persona-gateway" / "embedder"
    assert Settings(embedding_cache_dir=tmp_path / "x").embedder_cache_dir == tmp_path / "x"


def test_onnx_keeps_the_torch_vector_space_and_int8_names_its_own(tmp_path):
    torch_emb = load_embedder(MODEL, eager=False)
    onnx = load_embedder(MODEL, eager=False, backend="onnx", cache_dir=tmp_path)
    int8 = load_embedder(MODEL, eager=False, backend="onnx-int8", cache_dir=tmp_path)
    assert model_tag(onnx) == model_tag(torch_emb)
    assert model_tag(int8) != model_tag(torch_emb)
    assert "onnx-int8" in model_tag(int8)


def test_export_of_a_model_that_is_not_a_local_folder_says_what_to_do(tmp_path):
    with pytest.raises(EmbedderExportError, match="PERSONA_EMBEDDING_BACKEND=torch"):
        ensure_onnx("sentence-transformers/all-MiniLM-L6-v2", tmp_path, "onnx-int8")


class StandIn(OnnxEmbedder):
    """An OnnxEmbedder named as the real one, computing hash vectors (no model, no
    export): what ``HistoryService`` sees of a backend is its name and its vectors."""

    def __init__(self, backend: str, salt: str = ""):
        super().__init__(MODEL, backend=backend, cache_dir=".")
        self._hash = HashEmbedder(dim=32)
        self.dim = 32
        self.salt = salt

    def load(self) -> None:
        pass

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._hash.embed_batch([self.salt + t for t in texts])


class TorchStandIn(HashEmbedder):
    def __init__(self):
        super().__init__(dim=32)
        self.name = MODEL


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    db.create_all()
    tenant = get_or_create_tenant(db, "acme")
    made: list[HistoryService] = []

    def service(embedder) -> HistoryService:
        svc = HistoryService(db=db, embedder=embedder, index_dir=tmp_path / "index",
                             keys=keyring(db))
        svc.open()
        made.append(svc)
        return svc

    yield service, db, tenant
    for svc in made:
        svc.close()
    db.close()


ITEMS = [HistoryItem(id=f"i{j}", kind="sent_reply", text=t, context=c) for j, (t, c) in
         enumerate([("Friday at 3 works for me", "Can we meet Friday?"),
                    ("The invoice is paid", "Did you pay the invoice?"),
                    ("Lunch sounds great", "Lunch tomorrow?")])]


def stored(db: Database) -> tuple[set[str], set[str], list[bytes]]:
    with db.session() as s:
        rows = s.scalars(select(HistoryRow).order_by(HistoryRow.pk)).all()
        vec_models = set(s.scalars(select(ItemVectorsRow.model)))
        keys = keyring(db)  # stored vectors are sealed with the user's data key
        return ({r.model for r in rows}, vec_models,
                [keys.open(r.tenant_id, r.user_id, r.embedding) for r in rows])


def test_switch_to_int8_reembeds_history_and_back_to_torch_again(store):
    service, db, tenant = store
    svc = service(TorchStandIn())
    svc.add(tenant, "ana", ITEMS)
    svc.close()

    int8 = StandIn("onnx-int8", salt="q8 ")  # other vectors than torch's
    svc = service(int8)
    assert svc.open_report["reembedded"] == 3
    assert svc.open_report["vectors_filled"] == 3
    models, vec_models, blobs = stored(db)
    assert models == vec_models == {model_tag(int8)}
    expected = int8.embed(["Friday at 3 works for me\nCan we meet Friday?"])[0]
    assert np.frombuffer(blobs[0], dtype=np.float32).tolist() == pytest.approx(expected.tolist())
    assert svc.retrieve(tenant, "ana", "Is the invoice paid?", k=1)[0].id == "i1"
    svc.close()

    back = service(TorchStandIn())
    assert back.open_report["reembedded"] == 3
    assert stored(db)[0] == {model_tag(back.embedder)}


def test_switch_from_torch_to_onnx_reembeds_nothing(store):
    service, _db, tenant = store
    svc = service(TorchStandIn())
    svc.add(tenant, "ana", ITEMS)
    svc.close()
    onnx = service(StandIn("onnx"))
    assert (onnx.open_report["reembedded"], onnx.open_report["vectors_filled"]) == (0, 0)
    assert onnx.open_report["repaired"] == 0  # the snapshot's model matches too


@pytest.mark.e2e
def test_real_model_onnx_matches_torch_and_int8_is_close(tmp_path):
    texts = ["Can we move our Thursday meeting to Friday at 3pm?", "thanks!",
             "The quarterly numbers are in the shared folder, see the second tab. " * 4]
    cache = Settings().embedder_cache_dir
    ref = load_embedder(MODEL).embed(texts)
    onnx = load_embedder(MODEL, backend="onnx", cache_dir=cache)
    int8 = load_embedder(MODEL, backend="onnx-int8", cache_dir=cache)
    assert (onnx.embed(texts) * ref).sum(1).min() > 0.9999
    cos = (int8.embed(texts) * ref).sum(1)
    assert cos.min() > 0.95 and not np.allclose(cos, 1.0, atol=1e-4)
    before = int8.path.stat().st_mtime_ns
    again = load_embedder(MODEL, backend="onnx-int8", cache_dir=cache)
    assert again.path == int8.path and again.path.stat().st_mtime_ns == before  # cached
    with int8.bulk(2):
        np.testing.assert_allclose(int8.embed(texts), again.embed(texts), atol=1e-5)
