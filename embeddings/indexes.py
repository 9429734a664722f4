"""Keeps per-user indexes in agreement with the store, in bounded memory.

The store is the truth; an index is a cache of one user's stored embeddings. Since
pks only grow, a user's index is exactly right when it holds every row with
``pk <= index.max_pk`` and the store has nothing above that; so agreement is
checked with one indexed ``count(*), max(pk)`` query and repaired by appending the
stored embeddings above ``max_pk`` (or, if the counts still disagree, rebuilding
from all of them). Nothing is re-embedded for a repair.

Every read goes through ``synced()``, so an index is never served stale, whoever
wrote the rows (this process, a ``persona ingest`` run, another worker). Snapshots
on disk are written when enough changed, on eviction and on close; a crash between
a commit and a snapshot only leaves a snapshot behind the store, which the next
load (or ``open()``) brings up to date.

Loaded indexes sit in an LRU bounded by bytes, so memory stays flat however many
users the store holds. They hold plain vectors (in memory only); snapshot payloads
are sealed with the user's data key, and a user without a key gets no snapshot.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

from embeddings.index import (
    IndexFileError,
    UserIndex,
    index_path,
    read_header,
    read_snapshot,
    write_snapshot,
)
from embeddings.store import HistoryStore, UserKey
from gateway.core.keyring import Keyring

log = logging.getLogger(__name__)


class IndexManager:
    def __init__(self, store: HistoryStore, index_dir: Path, *, keys: Keyring, dim: int,
                 model: str, cache_bytes: int = 256 * 2**20, snapshot_every: int = 512):
        self.store = store
        self.keys = keys
        self.index_dir = index_dir
        self.dim = dim
        self.model = model
        self.cache_bytes = cache_bytes
        self.snapshot_every = snapshot_every
        self._cache: OrderedDict[UserKey, UserIndex] = OrderedDict()
        self._sizes: dict[UserKey, int] = {}  # bytes counted per cached index
        self._total = 0
        self._lock = threading.RLock()
        self.repairs = 0  # snapshots found missing, stale or corrupt and rebuilt

    # --- public
    def synced(self, key: UserKey) -> UserIndex | None:
        """The user's index, brought level with the store; None if they have no items.

        Callers must hold ``self.lock`` while they use the returned index.
        """
        with self._lock:
            count, max_pk = self.store.stats(*key)
            if count == 0:
                self._forget(key)
                return None
            idx = self._cache.get(key)
            if idx is None:
                idx = self._load(key)
            if idx.ntotal != count or idx.max_pk != max_pk:
                idx = self._catch_up(key, idx, count, max_pk)
            self._put(key, idx)
            if idx.unsaved >= self.snapshot_every:
                self._save(key, idx)
            self._evict(keep=key)
            return idx

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def forget(self, key: UserKey) -> None:
        """Drop a user's index from memory and disk (their rows are gone)."""
        with self._lock:
            self._forget(key)

    def repair_all(self) -> dict[str, int]:
        """Start-up check: every user's snapshot against the store; fix what disagrees.

        Headers are checked here (count, max pk, model, file size); the payload CRC is
        checked whenever a snapshot is loaded, and a failing one is rebuilt then.
        """
        stats = self.store.all_stats()
        found = {"users": len(stats), "ok": 0, "repaired": 0, "orphans_removed": 0}
        with self._lock:
            for tmp in self.index_dir.glob("t*/.*.tmp"):
                tmp.unlink(missing_ok=True)
            wanted = {index_path(self.index_dir, t, u) for t, u in stats}
            for f in self.index_dir.glob("t*/*.pgx"):
                if f not in wanted:  # a deleted user's snapshot that outlived a crash
                    f.unlink(missing_ok=True)
                    found["orphans_removed"] += 1
            for key, (count, max_pk) in stats.items():
                path = index_path(self.index_dir, *key)
                try:
                    h = read_header(path)
                    good = (h.count, h.max_pk, h.dim, h.model) == (count, max_pk, self.dim,
                                                                 self.model)
                except IndexFileError:
                    good = False
                if good:
                    found["ok"] += 1
                    continue
                idx = self._catch_up(key, self._load(key), count, max_pk)
                self._save(key, idx)
                found["repaired"] += 1
        return found

    def flush(self) -> None:
        """Snapshot every index with unsaved changes (on close)."""
        with self._lock:
            for key, idx in list(self._cache.items()):
                if idx.unsaved:
                    self._save_if_current(key, idx)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._sizes.clear()
            self._total = 0

    def loaded_bytes(self) -> int:
        return self._total

    # --- internals (called with the lock held)
    def _load(self, key: UserKey) -> UserIndex:
        path = index_path(self.index_dir, *key)
        if not path.exists():
            return UserIndex(self.dim)
        try:
            return read_snapshot(path, dim=self.dim, model=self.model,
                                 unseal=lambda b: self.keys.open(*key, b))
        except IndexFileError as exc:
            log.warning("index snapshot %s is unusable (%s); rebuilding it from the store",
                        path.name, exc)
            self.repairs += 1
            return UserIndex(self.dim)

    def _catch_up(self, key: UserKey, idx: UserIndex, count: int, max_pk: int) -> UserIndex:
        pks, vecs = self.store.embeddings(*key, after_pk=idx.max_pk, dim=self.dim)
        if idx.ntotal + len(pks) == count and (not len(pks) or int(pks[-1]) == max_pk):
            idx.add(pks, vecs)
            return idx
        # Counts disagree (rows vanished, or pks arrived out of order): rebuild.
        self.repairs += 1
        fresh = UserIndex(self.dim)
        pks, vecs = self.store.embeddings(*key, after_pk=0, dim=self.dim)
        fresh.add(pks, vecs)
        return fresh

    def _save(self, key: UserKey, idx: UserIndex) -> None:
        data_key = self.keys.existing(*key)
        if data_key is None:  # forgotten meanwhile (their rows go next): write nothing
            return
        write_snapshot(index_path(self.index_dir, *key), idx, model=self.model,
                       seal=data_key.seal)

    def _save_if_current(self, key: UserKey, idx: UserIndex) -> None:
        """Snapshot only what still matches the store: a user deleted meanwhile (perhaps
        by another process) must not have their vectors written back to disk."""
        count, max_pk = self.store.stats(*key)
        if count == 0:
            self._forget(key)
        elif (count, max_pk) == (idx.ntotal, idx.max_pk):
            self._save(key, idx)

    def _forget(self, key: UserKey) -> None:
        self._drop(key)
        index_path(self.index_dir, *key).unlink(missing_ok=True)

    def _put(self, key: UserKey, idx: UserIndex) -> None:
        self._total += idx.nbytes - self._sizes.get(key, 0)
        self._sizes[key] = idx.nbytes
        self._cache[key] = idx
        self._cache.move_to_end(key)

    def _drop(self, key: UserKey) -> None:
        self._cache.pop(key, None)
        self._total -= self._sizes.pop(key, 0)

    def _evict(self, *, keep: UserKey) -> None:
        while self._total > self.cache_bytes and len(self._cache) > 1:
            key, idx = next(iter(self._cache.items()))
            if key == keep:
                break
            self._drop(key)
            if idx.unsaved:
                self._save_if_current(key, idx)
