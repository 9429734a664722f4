"""Vectors of texts many requests share (a campaign sent to many recipients), kept
for the life of the process in a bounded LRU.

Keyed by a SHA-256 of the text: the text itself is not kept. Only the callers that
know their texts repeat across users use it (subject lines: the campaign body and the
candidates drawn from it); a user's own history never goes through it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


class VectorCache:
    def __init__(self, embedder, *, size: int):
        """``embedder``: its ``embed`` (texts -> one vector each) fills the cache; ``size``:
        vectors kept (0: none)."""
        self.embedder = embedder
        self.size = size
        self._vecs: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text; the ones not cached are embedded in one batch."""
        texts = list(texts)
        if self.size <= 0:
            return self.embedder.embed(texts)
        keys = [hashlib.sha256(t.encode()).digest() for t in texts]
        with self._lock:
            got = {}
            for k in keys:
                v = self._vecs.get(k)
                if v is not None:
                    self._vecs.move_to_end(k)
                    got[k] = v
        todo = {k: t for k, t in zip(keys, texts) if k not in got}
        if todo:
            fresh = self.embedder.embed(list(todo.values()))
            with self._lock:
                for k, v in zip(todo, fresh):
                    got[k] = self._vecs[k] = v
                    self._vecs.move_to_end(k)
                while len(self._vecs) > self.size:
                    self._vecs.popitem(last=False)
        if not texts:
            return self.embedder.embed([])
        return np.vstack([got[k] for k in keys])

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
