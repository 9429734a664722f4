"""embeddings.vector_cache.VectorCache: shared texts embedded once, bounded, by hash."""

import numpy as np

from embeddings.vector_cache import VectorCache


class CountingEmbedder:
    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32).reshape(-1, 2)


def test_a_text_seen_before_is_not_embedded_again():
    emb = CountingEmbedder()
    cache = VectorCache(emb, size=10)
    first = cache.embed(["spring sale", "shoes"])
    again = cache.embed(["shoes", "new text", "spring sale"])
    assert emb.calls == [["spring sale", "shoes"], ["new text"]]
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert again[1].tolist() == [8.0, 1.0]


def test_the_least_recently_used_vector_goes_first_and_no_text_is_kept():
    emb = CountingEmbedder()
    cache = VectorCache(emb, size=2)
    cache.embed(["a", "b"])
    cache.embed(["a"])  # a is now the most recent
    cache.embed(["c"])  # evicts b
    cache.embed(["a", "b"])
    assert emb.calls[-1] == ["b"]
    assert all(isinstance(k, bytes) for k in cache._vecs)  # hashes, not the texts


def test_size_zero_is_off():
    emb = CountingEmbedder()
    cache = VectorCache(emb, size=0)
    cache.embed(["a"])
    cache.embed(["a"])
    assert emb.calls == [["a"], ["a"]]
