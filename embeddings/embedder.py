"""Embedders: text -> L2-normalized float32 vectors.

One abstract method (``embed_batch``); batching lives in the base class.
``load_embedder(name, backend=...)`` picks the implementation from the
``embedding_model`` and ``embedding_backend`` settings: a sentence-transformers path
or name run by torch, the same model exported to ONNX and run by onnxruntime
(``onnx``: the torch vectors; ``onnx-int8``: int8 weights, close to but not the same
vectors, so it has its own ``name``), or ``hash`` (a deterministic bag-of-words
hashing embedder with no model, for unit tests and dry runs).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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


class OnnxEmbedder(Embedder):
    """The sentence-transformers model exported to ONNX (``embeddings.onnx_export``),
    tokenized by its own ``tokenizer.json`` and run by onnxruntime; pooling and
    normalization are inside the graph.

    ``onnx`` computes the torch vectors (cosine 1.0000 to them), so it keeps the
    model's ``name`` and a switch from torch re-embeds nothing; ``onnx-int8`` vectors
    differ a little (cosine ~0.99), so its ``name`` carries the backend and a store
    written by another backend is re-embedded at start (``HistoryService.open``).
    """

    def __init__(self, model: str, *, backend: str, cache_dir: Path, batch_size: int = 64,
                 threads: int = 1, max_tokens: int | None = None):
        super().__init__(batch_size)
        self.model_dir = Path(model)
        self.backend = backend
        self.name = model if backend == "onnx" else f"{model}@{backend}"
        self.cache_dir = Path(cache_dir)
        self.threads = max(threads, 1)
        self.max_tokens = max_tokens
        self.dim = 384
        self.path: Path | None = None  # the ONNX file, once loaded
        self._tok = None
        self._sessions: dict[int, object] = {}  # onnxruntime sessions by thread count
        self._run_threads = self.threads  # what ``bulk`` asks for
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._tok is not None:
                return
            from tokenizers import Tokenizer

            from embeddings.onnx_export import ensure_onnx

            self.path = ensure_onnx(self.model_dir, self.cache_dir, self.backend)
            tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tok.enable_truncation(self.max_tokens or _max_seq_length(self.model_dir))
            tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0)
            sess = self._session_locked(self.threads)
            self._inputs = {i.name for i in sess.get_inputs()}
            self.dim = int(sess.get_outputs()[0].shape[-1])
            self._tok = tok

    def _session_locked(self, threads: int):
        sess = self._sessions.get(threads)
        if sess is None:
            import onnxruntime as ort

            o = ort.SessionOptions()
            o.intra_op_num_threads = threads
            o.inter_op_num_threads = 1
            # Idle worker threads spin by default; on shared cores that only steals time.
            o.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sess = ort.InferenceSession(str(self.path), o, providers=["CPUExecutionProvider"])
            self._sessions[threads] = sess
        return sess

    @contextmanager
    def bulk(self, threads: int) -> Iterator[None]:
        self.load()
        with self._lock:
            self._session_locked(max(threads, 1))
        before, self._run_threads = self._run_threads, max(threads, 1)
        try:
            yield
        finally:
            self._run_threads = before

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        sess = self._sessions.get(self._run_threads) or self._sessions[self.threads]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for j in range(0, len(texts), self.batch_size):
            enc = self._tok.encode_batch(list(texts[j:j + self.batch_size]))
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            feed = {"input_ids": ids,
                    "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                    "token_type_ids": np.zeros_like(ids)}
            out[j:j + len(enc)] = sess.run(None, {k: v for k, v in feed.items()
                                                  if k in self._inputs})[0]
        return out


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())
                   ["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 256


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
                  threads: int = 1, max_tokens: int | None = None, backend: str = "torch",
                  cache_dir: Path | None = None) -> Embedder:
    """``backend``: ``torch``, ``onnx`` or ``onnx-int8`` (the ONNX ones export the
    model into ``cache_dir`` on first load); ignored by ``hash``."""
    if name == "hash" or name.startswith("hash:"):
        dim = int(name.split(":", 1)[1]) if ":" in name else 384
        return HashEmbedder(dim=dim)
    if backend == "torch":
        emb: Embedder = SentenceTransformerEmbedder(name, batch_size=batch_size, threads=threads,
                                                    max_tokens=max_tokens)
    elif backend in ("onnx", "onnx-int8"):
        if cache_dir is None:
            raise ValueError("backend onnx needs a cache_dir for the exported model")
        emb = OnnxEmbedder(name, backend=backend, cache_dir=cache_dir, batch_size=batch_size,
                           threads=threads, max_tokens=max_tokens)
    else:
        raise ValueError(f"unknown embedding backend {backend!r}: use torch, onnx or onnx-int8")
    if eager:
        emb.load()
    return emb
