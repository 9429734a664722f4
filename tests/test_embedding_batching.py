"""The micro-batching embedder: callers share forward passes, never results or errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from embeddings.batching import BatchingEmbedder
from embeddings.embedder import Embedder, HashEmbedder

LONG_WAIT_MS = 30_000  # batches below are closed by being full, never by the clock


class Recording(Embedder):
    """Deterministic per text (the hash embedder); records every forward pass; fails a
    pass that holds a text containing ``boom``; ``gate`` holds the first pass."""

    def __init__(self):
        super().__init__(batch_size=64)
        self.dim, self.name = 32, "recording"
        self._hash = HashEmbedder(dim=32)
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.gate: threading.Event | None = None

    def embed_batch(self, texts):
        self.calls.append(list(texts))
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if any("boom" in t for t in texts):
            raise RuntimeError("encoder failed")
        return self._hash.embed_batch(texts)

    def expected(self, texts):
        return self._hash.embed_batch(texts)


def run_threads(target, args_list):
    out: dict[int, object] = {}

    def work(i, *args):
        try:
            out[i] = target(*args)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            out[i] = exc

    threads = [threading.Thread(target=work, args=(i, *a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    return threads, out


def test_concurrent_callers_share_one_pass_and_each_gets_its_own_rows():
    inner = Recording()
    emb = BatchingEmbedder(inner, wait_ms=LONG_WAIT_MS, max_batch=8)
    # Four "users", two texts each; the batch is full (8 texts) only when all are queued.
    texts = [[f"user {u} says hello {j} " + "word " * u for j in range(2)] for u in range(4)]
    threads, out = run_threads(emb.embed, [(t,) for t in texts])
    for t in threads:
        t.join(20)
    assert len(inner.calls) == 1 and sorted(inner.calls[0]) == sorted(t for ts in texts for t in ts)
    for u in range(4):
        np.testing.assert_array_equal(out[u], inner.expected(texts[u]))


def test_a_failing_batch_fails_only_its_own_callers():
    inner = Recording()
    inner.gate = threading.Event()
    emb = BatchingEmbedder(inner, wait_ms=LONG_WAIT_MS, max_batch=2)
    first, out1 = run_threads(emb.embed, [(["boom here"],), (["innocent bystander"],)])
    assert inner.entered.wait(10)  # batch 1 (both calls) is in the encoder, held there
    later, out2 = run_threads(emb.embed, [(["second batch a"],), (["second batch b"],)])
    while emb.pending < 2:  # both queued behind the running batch
        threading.Event().wait(0.001)
    inner.gate.set()
    for t in first + later:
        t.join(20)
    assert isinstance(out1[0], RuntimeError) and isinstance(out1[1], RuntimeError)
    np.testing.assert_array_equal(out2[0], inner.expected(["second batch a"]))
    np.testing.assert_array_equal(out2[1], inner.expected(["second batch b"]))
    assert [sorted(c) for c in inner.calls] == [["boom here", "innocent bystander"],
                                                 ["second batch a", "second batch b"]]


def test_a_lone_call_runs_after_the_bounded_wait_and_errors_do_not_stick():
    inner = Recording()
    emb = BatchingEmbedder(inner, wait_ms=1)
    with pytest.raises(RuntimeError):
        emb.embed(["boom"])
    np.testing.assert_array_equal(emb.embed(["fine now"]), inner.expected(["fine now"]))
    np.testing.assert_array_equal(emb.embed_one("one"), inner.expected(["one"])[0])
    assert emb.embed([]).shape == (0, 32)
    assert (emb.dim, emb.name) == (32, "recording")


def test_a_call_larger_than_a_batch_is_served_whole():
    inner = Recording()
    emb = BatchingEmbedder(inner, wait_ms=0, max_batch=4)
    texts = [f"text number {i}" for i in range(10)]
    np.testing.assert_array_equal(emb.embed(texts), inner.expected(texts))


def test_a_lone_caller_does_not_wait_again_until_batches_find_company():
    inner = Recording()
    emb = BatchingEmbedder(inner, wait_ms=20)
    emb.embed(["first"])  # nothing known yet: waits for company, finds none
    assert emb.waits == 1
    emb.embed(["second"])
    emb.embed(["third"])
    assert emb.waits == 1  # one request at a time: no more waiting
    inner.gate, inner.entered = threading.Event(), threading.Event()
    held, _ = run_threads(emb.embed, [(["held"],)])
    assert inner.entered.wait(10)
    queued, out = run_threads(emb.embed, [(["queued a"],), (["queued b"],)])
    while emb.pending < 2:  # both wait behind the running pass
        threading.Event().wait(0.001)
    inner.gate.set()
    for t in held + queued:
        t.join(20)
    assert sorted(inner.calls[-1]) == ["queued a", "queued b"]  # they shared a pass
    np.testing.assert_array_equal(out[0], inner.expected(["queued a"]))
    emb.embed(["after company"])
    assert emb.waits == 2  # company seen: waiting for it pays again
