"""Vectors of texts many requests share, kept for the life of the process in a
bounded LRU: a campaign sent to many recipients, the smart-reply response sets.

Keyed by a SHA-256 of the text: the text itself is not kept. Only the callers that
know their texts repeat across users use it (subject lines: the campaign body and the
candidates drawn from it; smart replies: the canned replies and the tenant's
k-anonymous response set); a user's own history never goes through it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class VectorCache:
    def __init__(self, embedder, *, size: int):
        """``embedder``: its ``embed`` (texts -> one vector each) fills the cache; ``size``:
        vectors kept (0: none)."""
        self.embedder = embedder
        self.size = size
        self._vecs: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors held for these texts (text -> vector), misses left out."""
        got = {}
        with self._lock:
            for t in texts:
                k = _key(t)
                v = self._vecs.get(k)
                if v is not None:
                    self._vecs.move_to_end(k)
                    got[t] = v
        return got

    def keep(self, vectors: dict[str, np.ndarray]) -> None:
        """Hold these vectors (text -> vector), least recently used going first."""
        if self.size <= 0:
            return
        with self._lock:
            for t, v in vectors.items():
                k = _key(t)
                self._vecs[k] = v
                self._vecs.move_to_end(k)
            while len(self._vecs) > self.size:
                self._vecs.popitem(last=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text; the ones not cached are embedded in one batch."""
        texts = list(texts)
        if self.size <= 0 or not texts:
            return self.embedder.embed(texts)
        got = self.cached(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in got]
        if todo:
            fresh = dict(zip(todo, self.embedder.embed(todo)))
            self.keep(fresh)
            got.update(fresh)
        return np.vstack([got[t] for t in texts])

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
