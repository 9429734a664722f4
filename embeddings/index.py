"""One user's vector index and its on-disk snapshot format.

Each (tenant, user) gets its own FAISS index, so a search can only ever score that
user's vectors: isolation holds by construction, not by filtering results. The
index is ``IndexIDMap2(IndexFlatIP)``: exact cosine search over unit vectors with the
store's pk as the id, and removal by id. Flat is the right choice at per-user sizes
(thousands of items: a scan of 1k x 384 floats takes microseconds) and its speed
does not depend on how many *other* users the store holds.

A snapshot file is ``MAGIC | u32 header length | JSON header | sealed faiss bytes``:
the payload (the user's vectors, from which text can be recovered) is sealed with the
user's data key by the caller (``embeddings.indexes``), so a snapshot is unreadable
once the user is forgotten, and the file never holds plaintext vectors. The
header records how many vectors the snapshot holds, the highest pk in it, the
embedding model and a CRC of the payload, so a missing, stale or corrupt file is
detected and rebuilt from the store. Files are written atomically (temp file,
fsync, rename, fsync of the directory), so a crash leaves the old or the new
snapshot, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from gateway.core.errors import GatewayError

MAGIC = b"PGIDX2\n"  # 2: sealed payload (a version-1 file is rebuilt from the store)
_LEN = struct.Struct("<I")


class IndexFileError(Exception):
    """A snapshot file is unreadable, truncated, or fails its checksum."""


@dataclass(frozen=True)
class SnapshotHeader:
    count: int
    max_pk: int
    dim: int
    model: str
    crc32: int
    nbytes: int


class UserIndex:
    """Exact inner-product search over one user's vectors, keyed by store pk."""

    def __init__(self, dim: int, index: faiss.Index | None = None, max_pk: int = 0):
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.max_pk = max_pk
        self.unsaved = 0  # vectors added or removed since the last snapshot

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def nbytes(self) -> int:
        """Rough resident size: the vectors plus the two id maps of IndexIDMap2."""
        return self.ntotal * (self.dim * 4 + 64)

    def add(self, pks: np.ndarray, vecs: np.ndarray) -> None:
        if not len(pks):
            return
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.shape[1] != self.dim:
            raise ValueError(f"vector dim {vecs.shape[1]} != index dim {self.dim}")
        self.index.add_with_ids(vecs, np.ascontiguousarray(pks, dtype=np.int64))
        self.max_pk = max(self.max_pk, int(pks.max()))
        self.unsaved += len(pks)

    def remove(self, pks: np.ndarray) -> int:
        n = int(self.index.remove_ids(np.ascontiguousarray(pks, dtype=np.int64)))
        self.unsaved += n
        return n

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` (pk, cosine) pairs, best first."""
        k = min(k, self.ntotal)
        if k <= 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        scores, ids = self.index.search(q, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def index_path(index_dir: Path, tenant_id: int, user_id: str) -> Path:
    """Where a user's snapshot lives. The file name is a hash, so user ids (which may
    be e-mail addresses) never appear in the file system."""
    digest = hashlib.sha256(user_id.encode()).hexdigest()[:40]
    return index_dir / f"t{tenant_id}" / f"{digest}.pgx"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(path: Path, idx: UserIndex, *, model: str,
                   seal: Callable[[bytes], bytes]) -> None:
    payload = seal(faiss.serialize_index(idx.index).tobytes())
    header = json.dumps({"count": idx.ntotal, "max_pk": idx.max_pk, "dim": idx.dim,
                         "model": model, "crc32": zlib.crc32(payload),
                         "nbytes": len(payload)}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + _LEN.pack(len(header)) + header)
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    idx.unsaved = 0


def _read_header(f) -> SnapshotHeader:
    if f.read(len(MAGIC)) != MAGIC:
        raise IndexFileError("not an index snapshot (bad magic)")
    raw = f.read(_LEN.size)
    if len(raw) != _LEN.size:
        raise IndexFileError("truncated header")
    (n,) = _LEN.unpack(raw)
    if n > 4096:
        raise IndexFileError("header too long")
    try:
        h = json.loads(f.read(n))
        return SnapshotHeader(int(h["count"]), int(h["max_pk"]), int(h["dim"]), str(h["model"]),
                              int(h["crc32"]), int(h["nbytes"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexFileError(f"unreadable header: {exc}") from None


def read_header(path: Path) -> SnapshotHeader:
    """The header only, checked against the file size (cheap; used on start-up)."""
    try:
        with open(path, "rb") as f:
            h = _read_header(f)
            if os.fstat(f.fileno()).st_size != f.tell() + h.nbytes:
                raise IndexFileError("file size does not match its header (truncated?)")
            return h
    except OSError as exc:
        raise IndexFileError(str(exc)) from None


def read_snapshot(path: Path, *, dim: int, model: str,
                  unseal: Callable[[bytes], bytes]) -> UserIndex:
    """Load and verify a snapshot; raises IndexFileError if it cannot be trusted."""
    try:
        with open(path, "rb") as f:
            h = _read_header(f)
            payload = f.read()
    except OSError as exc:
        raise IndexFileError(str(exc)) from None
    if len(payload) != h.nbytes or zlib.crc32(payload) != h.crc32:
        raise IndexFileError("checksum mismatch")
    if h.dim != dim or h.model != model:
        raise IndexFileError(f"made by model {h.model!r} (dim {h.dim}), not {model!r} (dim {dim})")
    try:
        payload = unseal(payload)
    except GatewayError as exc:  # its key destroyed or replaced: rebuild from the store
        raise IndexFileError(f"payload cannot be opened ({type(exc).__name__})") from None
    try:
        index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
    except RuntimeError as exc:
        raise IndexFileError(f"faiss could not read it: {exc}") from None
    if not isinstance(index, faiss.IndexIDMap2):
        index = faiss.downcast_index(index)
    if not isinstance(index, faiss.IndexIDMap2):
        raise IndexFileError(f"holds a {type(index).__name__}, not an IndexIDMap2")
    if index.ntotal != h.count or index.d != dim:
        raise IndexFileError("index contents disagree with the header")
    return UserIndex(dim, index, h.max_pk)
