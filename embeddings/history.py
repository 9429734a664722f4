"""HistoryService: durable ingestion and per-user retrieval of history items.

Write path (``add``): validate the whole batch, embed it, then one transaction for
the batch (SQLite ``synchronous=FULL``: once it commits, the items survive a
crash), then bring the user's index level with the store. Once ``add`` returns,
the items are durable and retrievable; if the process dies before the index is
updated, the next read or ``open()`` repairs it from the stored embeddings.

Idempotency: an id already stored with the same content is accepted again without
a duplicate; the same id with different content is a ``Conflict`` (409) and the
batch is not written, because silently rewriting history would change what past
suggestions were grounded on. Send a new id for a new version.

Read path (``retrieve``): embed the query (or take the caller's vector of it),
search the requesting user's own index (see ``embeddings.index``), fetch those
rows, and with ``with_vectors`` the vectors stored for them at ingest (of the
message each answered and of the reply, see ``item_texts``), so a request runs
the encoder once for the query and never for stored texts. ``open()`` fills in
those vectors for items stored before they existed. ``recent``/``list``/``count``
read the store directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy.exc import IntegrityError

from embeddings.embedder import Embedder
from embeddings.indexes import IndexManager
from embeddings.items import HistoryItem, check_user_id
from embeddings.store import (
    CONTEXT_CHARS,
    HistoryRow,
    HistoryStore,
    ItemVectorsRow,
    Retrieved,
    StoredItem,
    as_utc,
    seal_row,
    seal_vec,
)
from gateway.core.db import Database
from gateway.core.errors import BadInput, Conflict
from gateway.core.keyring import Keyring

__all__ = ["CONTEXT_CHARS", "AddResult", "HistoryItem", "HistoryService", "Retrieved",
           "StoredItem", "check_user_id", "embedding_text"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddResult:
    ids: list[str]  # every id of the batch, in order; all are stored now
    added: list[str]  # new in this call
    unchanged: list[str]  # already stored with identical content (a re-send)


def embedding_text(item: HistoryItem) -> str:
    """What gets embedded: the item's own words first, then what it answered.

    Generators query with an incoming message, so a reply should be found both by
    what the user wrote and by the message it answered. The encoder truncates long
    input, so the item text leads and the context is clipped.
    """
    parts = [item.subject or "", item.text[:2000], (item.context or "")[:1000]]
    return "\n".join(p for p in parts if p.strip())


def plain_text(text: str) -> str:
    return " ".join(text.split())


def item_texts(text: str, context: str | None, *,
               reply_text: Callable[[str], str] = plain_text) -> tuple[str | None, str | None]:
    """The texts whose vectors a request needs from a stored item: the message it
    answered (clipped) and the reply as ``reply_text`` reduces it; None if empty."""
    ctx = context[:CONTEXT_CHARS] if context and context.strip() else None
    reply = reply_text(text) if text and text.strip() else ""
    return ctx, reply or None


def _utc_naive(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.replace(tzinfo=None)


def _same(row: StoredItem, item: HistoryItem) -> bool:
    return (row.kind, row.text, row.context, row.subject, as_utc(row.timestamp)) == (
        item.kind, item.text, item.context, item.subject, as_utc(_utc_naive(item.timestamp)))


def model_tag(embedder: Embedder) -> str:
    """Short, stable name of the embedding model (stored per row and per snapshot)."""
    return f"{Path(str(embedder.name)).name}:{embedder.dim}"[-64:]


class HistoryService:
    """``reply_text`` is what a reply's stored vector is of (``build_services`` passes
    ``guardrails.emailtext.bare_reply``: no greeting, no sign-off); it must not change
    between runs on one store without clearing ``history_vectors``.

    ``keys`` holds the users' data keys: every text and vector is stored sealed with
    its user's (``embeddings.store``), index snapshots too (``embeddings.indexes``)."""

    def __init__(self, *, db: Database, embedder: Embedder, index_dir: Path, keys: Keyring,
                 cache_mb: int = 256, snapshot_every: int = 512,
                 reply_text: Callable[[str], str] = plain_text):
        self.db = db
        self.keys = keys
        self.embedder = embedder
        self.reply_text = reply_text
        self.index_dir = Path(index_dir)
        self.store = HistoryStore(db, keys)
        self._cache_bytes = cache_mb * 2**20
        self._snapshot_every = snapshot_every
        self._indexes: IndexManager | None = None
        self._write_lock = threading.Lock()
        self.open_report: dict[str, int] = {}

    # --- lifecycle
    @property
    def indexes(self) -> IndexManager:
        if self._indexes is None:
            self._indexes = IndexManager(self.store, self.index_dir, keys=self.keys,
                                         dim=self.embedder.dim,
                                         model=model_tag(self.embedder),
                                         cache_bytes=self._cache_bytes,
                                         snapshot_every=self._snapshot_every)
        return self._indexes

    def open(self) -> None:
        """Check every user's index against the store; rebuild what is missing, stale
        or corrupt (from stored embeddings), remove snapshots of deleted users."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        # A per-user scan is ~microseconds of work: OpenMP threads only add wake-up and
        # spin latency (p99 x4 on a busy 2-core box). Concurrency comes from requests.
        faiss.omp_set_num_threads(1)
        self.close()
        self._indexes = None  # the embedder may have loaded since (its dim is known now)
        reembedded = self._reembed_other_models()
        filled = self._fill_item_vectors()
        self.open_report = {**self.indexes.repair_all(), "reembedded": reembedded,
                            "vectors_filled": filled}
        log.info("history store open: %s", self.open_report)

    def close(self) -> None:
        if self._indexes is not None:
            self._indexes.flush()
            self._indexes.clear()

    # --- writes
    def add(self, tenant_id: int, user_id: str, items: list[HistoryItem]) -> list[str]:
        return self.ingest(tenant_id, user_id, items).ids

    def ingest(self, tenant_id: int, user_id: str, items: Sequence[HistoryItem]) -> AddResult:
        """Store a batch all-or-nothing; see the module docstring for the guarantees."""
        check_user_id(user_id)
        seen: dict[str, int] = {}
        for j, it in enumerate(items):
            if it.id in seen:
                raise BadInput(f"items.{j}.id: duplicate id {it.id!r} (also items.{seen[it.id]}); "
                               "ids must be unique within a batch", field=f"items.{j}.id")
            seen[it.id] = j
        if not items:
            return AddResult([], [], [])
        ids = [it.id for it in items]
        with self.db.session() as s:
            before = self.store.existing(s, tenant_id, user_id, ids)
            self._check_conflicts(before, items)
            before = set(before)
        todo = [it for it in items if it.id not in before]
        vecs = self._embed_items(todo)
        key = self.keys.writer(tenant_id, user_id) if todo else None
        try:
            added, unchanged = self._commit(tenant_id, user_id, items, todo, vecs, key)
        except IntegrityError:  # another process wrote one of these ids meanwhile
            added, unchanged = self._commit(tenant_id, user_id, items, todo, vecs, key)
        if added:
            try:
                self.indexes.synced((tenant_id, user_id))
            except Exception:  # committed is durable; the next read repairs the index
                log.exception("index update after commit failed; it will be repaired")
        return AddResult(ids, added, unchanged)

    def _embed_items(self, items: Sequence[HistoryItem]
                     ) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
        """(indexed vector, context vector, reply vector) per item, from one embed call
        over the distinct texts (a plain reply is often its own indexed text)."""
        keys = [(embedding_text(it), *item_texts(it.text, it.context, reply_text=self.reply_text))
                for it in items]
        distinct = list(dict.fromkeys(t for k in keys for t in k if t is not None))
        got = dict(zip(distinct, self.embedder.embed(distinct)))
        return [(got[e], got.get(c) if c else None, got.get(r) if r else None)
                for e, c, r in keys]

    def _check_conflicts(self, existing: dict[str, StoredItem],
                         items: Sequence[HistoryItem]) -> None:
        for j, it in enumerate(items):
            row = existing.get(it.id)
            if row is not None and not _same(row, it):
                raise Conflict(f"items.{j}.id: id {it.id!r} is already stored with different "
                               "content; history items are immutable, so send the new "
                               "version under a new id", field=f"items.{j}.id")

    def _commit(self, tenant_id: int, user_id: str, items: Sequence[HistoryItem],
                todo: Sequence[HistoryItem], vecs, key) -> tuple[list[str], list[str]]:
        model = model_tag(self.embedder)
        vec_of = {it.id: v for it, v in zip(todo, vecs)}
        added: list[str] = []
        with self._write_lock, self.db.session() as s:
            existing = self.store.existing(s, tenant_id, user_id, [it.id for it in items])
            self._check_conflicts(existing, items)
            for it in items:
                if it.id in existing:
                    continue
                got = vec_of.get(it.id)
                if got is None:  # stored at pre-check, deleted since: embed it now
                    got = self._embed_items([it])[0]
                vec, ctx_vec, reply_vec = got
                if key is None:  # every id was stored at pre-check: no key fetched yet
                    key = self.keys.writer(tenant_id, user_id)
                # The item and its request vectors go in one transaction: both or neither.
                s.add(HistoryRow(tenant_id=tenant_id, user_id=user_id, item_id=it.id,
                                 kind=it.kind, timestamp=_utc_naive(it.timestamp), model=model,
                                 **seal_row(key, text=it.text, context=it.context,
                                            subject=it.subject, embedding=vec),
                                 vectors=ItemVectorsRow(model=model,
                                                        context=seal_vec(key, ctx_vec),
                                                        reply=seal_vec(key, reply_vec))))
                added.append(it.id)
        return added, [it.id for it in items if it.id in existing]

    def delete_user(self, tenant_id: int, user_id: str) -> None:
        """Delete what this store holds of a user: history rows, their vectors, the
        index snapshot file and the cached index.

        Rows go in one transaction (secure_delete zeroes their pages). The records
        other owners keep of the user, and the WAL checkpoint that makes deleted text
        leave the disk, are ``gateway.usecases.forget.forget_user``'s.
        """
        with self._write_lock, self.indexes.lock:
            with self.db.session() as s:
                self.store.delete_user_rows(s, tenant_id, user_id)
            self.indexes.forget((tenant_id, user_id))

    # --- reads
    def retrieve(self, tenant_id: int, user_id: str, query: str, *, k: int = 5,
                 kinds: Sequence[str] | None = None, query_vec: np.ndarray | None = None,
                 with_vectors: bool = False) -> list[Retrieved]:
        """The user's ``k`` items most similar to ``query`` (cosine), best first.

        Only this (tenant, user)'s index is searched. ``kinds`` narrows to those item
        kinds (searching deeper into the same user's index until ``k`` are found).
        ``query_vec``: the caller's vector of ``query`` (so it is not embedded twice).
        ``with_vectors``: also return each item's stored context and reply vectors.
        """
        if k <= 0 or not query.strip():
            return []
        key = (tenant_id, user_id)
        with self.indexes.lock:
            idx = self.indexes.synced(key)  # one indexed count/max query; None: no items
        if idx is None:
            return []
        # Outside the lock: the slow part.
        q = self.embedder.embed_one(query) if query_vec is None else query_vec
        fetch = k if not kinds else max(4 * k, 32)
        while True:
            with self.indexes.lock:
                total = idx.ntotal
                hits = idx.search(q, fetch)
            rows = self.store.items_by_pk(tenant_id, user_id, [pk for pk, _ in hits],
                                          kinds=kinds)
            hits = [(pk, score) for pk, score in hits if pk in rows]
            if len(hits) >= k or fetch >= total:
                break
            fetch = total
        hits = hits[:k]
        stored = self.store.item_vectors(tenant_id, user_id, [pk for pk, _ in hits],
                                         model=model_tag(self.embedder)) if with_vectors else {}
        return [Retrieved(**vars(rows[pk]), score=score,
                          context_vec=stored.get(pk, (None, None))[0],
                          reply_vec=stored.get(pk, (None, None))[1]) for pk, score in hits]

    def recent(self, tenant_id: int, user_id: str, *, kinds: Sequence[str] | None = None,
               limit: int = 50) -> list[StoredItem]:
        """Newest first (by the item's timestamp, else when it was stored)."""
        return self.store.recent(tenant_id, user_id, kinds=kinds, limit=max(limit, 0))

    def list(self, tenant_id: int, user_id: str, *, limit: int,
             cursor: str | None) -> tuple[list[StoredItem], str | None]:
        """Export in insertion order; ``cursor`` is the previous page's ``next_cursor``."""
        return self.store.page(tenant_id, user_id, limit=max(limit, 1), cursor=cursor)

    def count(self, tenant_id: int, user_id: str) -> int:
        return self.store.count(tenant_id, user_id)

    def index_ids(self, tenant_id: int, user_id: str) -> list[int]:
        """The pks the user's index holds (diagnostics and tests)."""
        with self.indexes.lock:
            idx = self.indexes.synced((tenant_id, user_id))
            return sorted(idx.ids().tolist()) if idx is not None else []

    # --- model swap
    def _reembed_other_models(self, batch: int = 256) -> int:
        """Rows embedded by a previous model are re-embedded with the current one, so a
        model swap in settings never mixes vector spaces. (The only re-embedding.)"""
        model = model_tag(self.embedder)
        pending = self.store.stale_models(model)
        if pending:
            log.warning("re-embedding %d history items for model %s", pending, model)
        done = 0
        while True:
            rows = self.store.rows_with_other_model(model, limit=batch)
            if not rows:
                return done
            texts = [embedding_text(HistoryItem(
                id=r.id, kind=r.kind, text=r.text, context=r.context, subject=r.subject))
                for _, _, r in rows]
            vecs = self.embedder.embed(texts)
            keys = {u: self.keys.writer(*u) for u in {u for _, u, _ in rows}}
            self.store.set_embeddings(model, [(pk, seal_vec(keys[u], v))
                                              for (pk, u, _), v in zip(rows, vecs)])
            done += len(rows)

    def _fill_item_vectors(self, batch: int = 512) -> int:
        """Items without request vectors for the current model (a store written before
        ``history_vectors`` existed, or after a model swap) get them now, in batches,
        each committed on its own, so an interrupted fill resumes where it stopped."""
        model = model_tag(self.embedder)
        pending = self.store.missing_vectors(model)
        if not pending:
            return 0
        log.warning("computing stored request vectors for %d history items (once; model %s)",
                    pending, model)
        done, after, t0 = 0, 0, time.monotonic()
        while True:
            rows = self.store.rows_missing_vectors(model, after_pk=after, limit=batch)
            if not rows:
                break
            keys = [item_texts(text, ctx, reply_text=self.reply_text) for _, _, text, ctx in rows]
            distinct = list(dict.fromkeys(t for k in keys for t in k if t is not None))
            got = dict(zip(distinct, self.embedder.embed(distinct)))
            users = {u: self.keys.writer(*u) for u in {u for _, u, _, _ in rows}}
            self.store.set_item_vectors(model, [
                (pk, seal_vec(users[u], got[c]) if c else None,
                 seal_vec(users[u], got[r]) if r else None)
                for (pk, u, _, _), (c, r) in zip(rows, keys)])
            done += len(rows)
            after = rows[-1][0]
            log.info("request vectors: %d/%d items (%.0f items/s)", done, pending,
                     done / max(time.monotonic() - t0, 1e-9))
        return done
