"""Micro-batching: texts from concurrent callers share one forward pass.

An encoder call has a fixed overhead: MiniLM takes ~8 ms for one query but ~2.9 ms
per text in a batch of 64. Under load many requests embed a few texts each at
about the same time, so ``BatchingEmbedder`` queues them and runs one call for
all of them, after a bounded wait (``wait_ms``) or as soon as the batch is full.
The wait is kept only while batches find company: after a batch of one caller the
next leader runs at once (one request at a time gains nothing by waiting, and under
rising load callers queue behind the running pass anyway, which brings the wait back).

No background thread: the first caller to find no batch running becomes the
*leader*; it waits up to ``wait_ms`` for company, takes the queued calls (first
come first served, up to ``max_batch`` texts), runs the wrapped embedder and
hands each caller exactly its own rows. Callers that arrive meanwhile queue for
the next batch, so under load batches grow by themselves. An exception raised by
a batch is raised to that batch's callers only; the next batch runs as usual.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from embeddings.embedder import Embedder


class _Call:
    __slots__ = ("done", "error", "rows", "texts")

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.rows: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class BatchingEmbedder(Embedder):
    def __init__(self, inner: Embedder, *, wait_ms: float = 3.0, max_batch: int | None = None):
        super().__init__(inner.batch_size)
        self.inner = inner
        self.wait_s = max(wait_ms, 0.0) / 1000
        self.max_batch = max_batch or inner.batch_size
        self._cond = threading.Condition()
        self._queue: deque[_Call] = deque()
        self._queued = 0  # texts waiting in ``_queue``
        self._leading = False
        self.batches = 0  # forward passes run (diagnostics and tests)
        self.waits = 0  # leaders that waited for company (diagnostics and tests)
        self._company = True  # the last batch held more than one call

    # The wrapped embedder knows its dimension only once loaded.
    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.inner.dim

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    @property
    def pending(self) -> int:
        """Calls queued for the next batch."""
        with self._cond:
            return len(self._queue)

    def load(self) -> None:
        self.inner.load()

    @contextmanager
    def bulk(self, threads: int) -> Iterator[None]:
        with self.inner.bulk(threads):
            yield

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_batch(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        call = _Call(list(texts))
        with self._cond:
            self._queue.append(call)
            self._queued += len(call.texts)
            self._cond.notify_all()  # a leader waiting for a full batch may go now
        while True:
            with self._cond:
                while not call.done and self._leading:
                    self._cond.wait()
                if call.done:
                    break
                self._leading = True
            try:
                self._lead()
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if call.error is not None:
            raise call.error
        return call.rows

    def _lead(self) -> None:
        """Wait for company (bounded), take one batch off the queue, run it."""
        deadline = time.monotonic() + (self.wait_s if self._company else 0.0)
        with self._cond:
            if self._company and self.wait_s and self._queued < self.max_batch:
                self.waits += 1
            while self._queued < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch: list[_Call] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_batch):
                c = self._queue.popleft()
                batch.append(c)
                size += len(c.texts)
            self._queued -= size
            self._company = len(batch) > 1
        try:
            vecs = self.inner.embed([t for c in batch for t in c.texts])
        except BaseException as exc:  # noqa: BLE001 - handed to this batch's callers
            for c in batch:
                c.error = exc
        else:
            at = 0
            for c in batch:
                c.rows = vecs[at:at + len(c.texts)].copy()  # nobody holds another's rows
                at += len(c.texts)
        self.batches += 1
        with self._cond:
            for c in batch:
                c.done = True
