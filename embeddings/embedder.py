"""Embedders: text -> L2-normalized float32 vectors.

One abstract method (``embed_batch``); batching lives in the base class.
``load_embedder(name)`` picks the backend from the ``embedding_model`` setting:
a sentence-transformers path or name, or ``hash`` (a deterministic
bag-of-words hashing embedder with no model, for unit tests and dry runs).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

# Beyond this many characters every text fills the encoder's token window anyway.
_LONG_CHARS = 1024


class Embedder(ABC):
    dim: int
    name: str

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size

    def load(self) -> None:
        """Load weights now rather than on first use (no-op where nothing to load)."""

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed up to ``batch_size`` texts; returns (len(texts), dim) float32, unit norm."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed any number of texts, in batches of similar length.

        An encoder pads a batch to its longest text: one email body among 25 short
        subject lines made that batch cost 26 bodies (668 ms instead of 80 ms), so
        texts are sorted by length and a batch never mixes lengths that differ much.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = [min(len(t), _LONG_CHARS) for t in texts]
        order = sorted(range(len(texts)), key=size.__getitem__)
        batches: list[list[int]] = []
        for i in order:
            b = batches[-1] if batches else None
            if b is None or len(b) >= self.batch_size or size[i] > 2 * size[b[0]] + 32:
                batches.append([i])
            else:
                b.append(i)
        out: np.ndarray | None = None
        for b in batches:
            vecs = self.embed_batch([texts[i] for i in b])
            if out is None:
                out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
            out[b] = vecs
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    @contextmanager
    def bulk(self, threads: int) -> Iterator[None]:
        """Use ``threads`` CPU threads inside the block (for bulk loads while nothing
        else runs: evals, offline ingest); a no-op where there is no model."""
        yield


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str, batch_size: int = 64, device: str = "cpu", threads: int = 1,
                 max_tokens: int | None = None):
        super().__init__(batch_size)
        self.name = model
        self.device = device
        self.threads = threads
        self.max_tokens = max_tokens
        self._model = None
        self._lock = threading.Lock()
        self.dim = 384

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                # One intra-op thread: on a shared 2-core box (llama.cpp, other requests)
                # torch's default spins against them; measured query embedding p50
                # 240 ms -> 14 ms, ingest 26 -> 121 items/s (docs/history.md).
                if self.threads > 0:
                    torch.set_num_threads(self.threads)
                self._model = SentenceTransformer(self.name, device=self.device)
                if self.max_tokens:
                    # Encoder cost grows with length; all-MiniLM-L6-v2 was trained on 128
                    # word pieces (its default reads 256): 1.5x faster ingest of emails.
                    self._model.max_seq_length = self.max_tokens
                dim_of = getattr(self._model, "get_embedding_dimension", None) or \
                    self._model.get_sentence_embedding_dimension
                self.dim = int(dim_of())

    @contextmanager
    def bulk(self, threads: int) -> Iterator[None]:
        import torch

        self.load()
        before = torch.get_num_threads()
        torch.set_num_threads(max(threads, 1))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        vecs = self._model.encode(list(texts), batch_size=self.batch_size,
                                  normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)
        return vecs.astype(np.float32, copy=False)


_TOKEN = re.compile(r"[a-z0-9]+")


class HashEmbedder(Embedder):
    """Hashing-trick embedder over words and word bigrams. Texts that share words
    score high, so retrieval tests mean something, without loading a model."""

    def __init__(self, dim: int = 384, batch_size: int = 256):
        super().__init__(batch_size)
        self.dim = dim
        self.name = f"hash:{dim}"

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        words = _TOKEN.findall(text.lower())
        for feat in words + [a + " " + b for a, b in itertools.pairwise(words)]:
            h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self._vec(t) for t in texts]).astype(np.float32)


def load_embedder(name: str, *, batch_size: int = 64, eager: bool = True,
                  threads: int = 1, max_tokens: int | None = None) -> Embedder:
    if name == "hash" or name.startswith("hash:"):
        dim = int(name.split(":", 1)[1]) if ":" in name else 384
        return HashEmbedder(dim=dim)
    emb = SentenceTransformerEmbedder(name, batch_size=batch_size, threads=threads,
                                      max_tokens=max_tokens)
    if eager:
        emb.load()
    return emb
