"""The embedder's batching: input order kept, similar lengths batched together."""

from collections.abc import Sequence

import numpy as np

from embeddings.embedder import Embedder, HashEmbedder


class Recording(HashEmbedder):
    def __init__(self, batch_size: int = 64):
        super().__init__(dim=16)
        self.batch_size = batch_size
        self.batches: list[list[str]] = []

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed_batch(texts)


def test_vectors_come_back_in_input_order():
    texts = ["a long email body about the quarterly gas report " * 20, "short one",
             "mid length subject about the meeting", "x"]
    emb = Recording()
    out = emb.embed(texts)
    assert out.shape == (4, 16)
    for i, t in enumerate(texts):
        np.testing.assert_allclose(out[i], HashEmbedder(dim=16).embed_batch([t])[0])


def test_a_long_text_is_not_padded_together_with_short_ones():
    body = "the plant crashed last night and the volume below base load " * 30
    subjects = [f"subject line {i}" for i in range(25)]
    emb = Recording()
    emb.embed([body, *subjects])
    assert [body] in emb.batches  # alone in its batch
    assert sorted(t for b in emb.batches if b != [body] for t in b) == sorted(subjects)


def test_batches_respect_batch_size():
    emb = Recording(batch_size=4)
    emb.embed([f"text {i}" for i in range(10)])
    assert [len(b) for b in emb.batches] == [4, 4, 2]


def test_nothing_to_embed_gives_an_empty_matrix():
    out = Recording().embed([])
    assert out.shape == (0, 16) and out.dtype == np.float32


def test_base_bulk_is_a_no_op_context():
    emb: Embedder = HashEmbedder(dim=8)
    with emb.bulk(2):
        assert emb.embed(["a"]).shape == (1, 8)
