"""Sentence vectors for one request, embedded in as few batches as possible.

Embedding dominates the gateway's own cost (each MiniLM call has a fixed
overhead), so a request asks for vectors in batches (``ensure``) and looks
them up by text. The response sets (canned replies, the tenant's shared replies)
recur for every request: their vectors go through the process's ``VectorCache``
(bounded, keyed by a hash of the text). A user's own texts are never kept beyond the
request; vectors stored with history items come in through ``put``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class Vectors:
    def __init__(self, embedder, *, shared: Iterable[str] = (), cache=None):
        """``shared``: texts whose vectors ``cache`` (an ``embeddings.VectorCache``,
        or None: none kept) holds across requests."""
        self.embedder = embedder
        self._cache = cache
        self._shared_texts = set(shared) if cache is not None else set()
        self._local: dict[str, np.ndarray] = {}

    def ensure(self, texts: Iterable[str]) -> None:
        """Embed, in one batch, every text not seen yet (nor held by the cache)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._local]
        shared = [t for t in todo if t in self._shared_texts]
        if shared:
            self._local.update(self._cache.cached(shared))
            todo = [t for t in todo if t not in self._local]
        if not todo:
            return
        fresh = dict(zip(todo, self.embedder.embed(todo)))
        self._local.update(fresh)
        if shared:
            self._cache.keep({t: v for t, v in fresh.items() if t in self._shared_texts})

    def put(self, text: str, vec: np.ndarray) -> None:
        """A vector computed elsewhere (stored at ingest) for ``text``, for this request."""
        self._local.setdefault(text, vec)

    def get(self, text: str) -> np.ndarray:
        return self._local[text]

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        self.ensure(texts)
        if not texts:
            return np.zeros((0, getattr(self.embedder, "dim", 1)), dtype=np.float32)
        return np.vstack([self.get(t) for t in texts])
