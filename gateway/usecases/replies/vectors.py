"""Sentence vectors for one request, embedded in as few batches as possible.

Embedding dominates the gateway's own cost (each MiniLM call has a fixed
overhead), so a request asks for vectors in batches (``ensure``) and looks
them up by text. Canned rule replies are a fixed vocabulary: their vectors are
kept per embedder for the life of the process. User texts are never kept
beyond the request; vectors stored with history items come in through ``put``.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence

import numpy as np

_canned: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Vectors:
    def __init__(self, embedder, *, shared: Iterable[str] = ()):
        self.embedder = embedder
        self._shared = _canned.setdefault(embedder, {})
        self._shared_texts = set(shared)
        self._local: dict[str, np.ndarray] = {}

    def ensure(self, texts: Iterable[str]) -> None:
        """Embed, in one batch, every text not seen yet."""
        todo = [t for t in dict.fromkeys(texts)
                if t not in self._local and t not in self._shared]
        if not todo:
            return
        for t, v in zip(todo, self.embedder.embed(todo)):
            (self._shared if t in self._shared_texts else self._local)[t] = v

    def put(self, text: str, vec: np.ndarray) -> None:
        """A vector computed elsewhere (stored at ingest) for ``text``, for this request."""
        if text not in self._shared:
            self._local.setdefault(text, vec)

    def get(self, text: str) -> np.ndarray:
        v = self._local.get(text)
        return v if v is not None else self._shared[text]

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        self.ensure(texts)
        if not texts:
            return np.zeros((0, getattr(self.embedder, "dim", 1)), dtype=np.float32)
        return np.vstack([self.get(t) for t in texts])
