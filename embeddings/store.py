"""The history store: the source of truth for every user's items and their embeddings.

Rows live in SQLite (``history_items``); the FAISS files under the index dir are a
cache rebuilt from the ``embedding`` column, never the other way round. The integer
primary key ``pk`` doubles as the FAISS id. ``sqlite_autoincrement`` keeps pks
monotonic (never reused after a delete), so "every row with pk <= N" is a stable
prefix an index snapshot can be checked against.

``history_vectors`` holds, per item, the vectors a request needs besides the
indexed one (the message it answered, the reply itself), computed once at ingest
and written in the item's transaction, so serving reads them instead of running
the encoder. A row whose ``model`` differs from the current embedder's (or a
missing row: a store written before this table existed) is filled in at start.

Texts (``text``, ``context``, ``subject``) and every vector are sealed with the
user's data key (``gateway.core.crypto``): a text can be read back from its vector,
so the vectors get the same protection. Reads open them here, so callers only see
plain types; writers seal with ``seal_row`` / ``seal_vec``. ``kind``, ids and times
stay plain (they are what queries filter and order by).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from gateway.core.crypto import TEXT_PREFIX, DataKey, KeyDestroyed
from gateway.core.db import BIG_ID, SQLITE_MAX_INT, Base, Database, utcnow
from gateway.core.errors import BadInput
from gateway.core.keyring import Keyring

CONTEXT_CHARS = 1000  # of an item's context, what its stored context vector reads


@dataclass(frozen=True)
class StoredItem:
    id: str
    kind: str
    text: str
    context: str | None
    subject: str | None
    timestamp: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Retrieved(StoredItem):
    score: float  # cosine similarity of the query and the item's embedding
    # Stored at ingest (``HistoryService.retrieve(with_vectors=True)``); None if the item
    # has no such text, or its vectors are not (yet) stored for the current model.
    context_vec: np.ndarray | None = field(default=None, compare=False, repr=False)
    reply_vec: np.ndarray | None = field(default=None, compare=False, repr=False)


class HistoryRow(Base):
    __tablename__ = "history_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "item_id", name="uq_history_item"),
        Index("ix_history_items_user_pk", "tenant_id", "user_id", "pk"),
        {"sqlite_autoincrement": True},
    )
    pk: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    item_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    model: Mapped[str] = mapped_column(String(64))  # which embedder made ``embedding``
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32, unit norm
    vectors: Mapped[ItemVectorsRow | None] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True)


class ItemVectorsRow(Base):
    """Vectors a request needs from an item (float32, unit norm; NULL: no such text)."""

    __tablename__ = "history_vectors"
    pk: Mapped[int] = mapped_column(ForeignKey("history_items.pk", ondelete="CASCADE"),
                                    primary_key=True)
    model: Mapped[str] = mapped_column(String(64))  # which embedder made them
    context: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    reply: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    item: Mapped[HistoryRow] = relationship(back_populates="vectors")


_ITEM_COLUMNS = (HistoryRow.pk, HistoryRow.item_id, HistoryRow.kind, HistoryRow.text,
                 HistoryRow.context, HistoryRow.subject, HistoryRow.timestamp,
                 HistoryRow.created_at)


def _vec(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


def seal_vec(key: DataKey, v: np.ndarray | None) -> bytes | None:
    return None if v is None else key.seal(np.asarray(v, dtype=np.float32).tobytes())


def seal_row(key: DataKey, *, text: str, context: str | None, subject: str | None,
             embedding: np.ndarray) -> dict:
    """The sealed column values of a new ``HistoryRow``."""
    return {"text": key.seal_text(text), "context": key.seal_text(context),
            "subject": key.seal_text(subject), "embedding": seal_vec(key, embedding)}


def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything we store is UTC, so say so."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def to_item(keys: Keyring, tenant_id: int, user_id: str, row) -> StoredItem:
    """A row (of ``_ITEM_COLUMNS`` or a ``HistoryRow``) as a plain, opened item."""
    def o(v):
        return keys.open_text(tenant_id, user_id, v)

    return StoredItem(id=row.item_id, kind=row.kind, text=o(row.text), context=o(row.context),
                      subject=o(row.subject), timestamp=as_utc(row.timestamp),
                      created_at=as_utc(row.created_at))


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"h1:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, pk = raw.partition(":")
        if tag != "h1" or not pk.isdigit() or int(pk) > SQLITE_MAX_INT:
            raise ValueError
        return int(pk)
    except (ValueError, UnicodeDecodeError):
        raise BadInput("cursor is not valid; pass the next_cursor value of the previous page "
                       "unchanged, or omit it to start from the beginning", field="cursor") from None


UserKey = tuple[int, str]


class HistoryStore:
    """Queries over ``history_items``; each method is one short transaction."""

    def __init__(self, db: Database, keys: Keyring):
        self.db = db
        self.keys = keys
        # The read path runs per request: prebuilt statements with bound parameters on a
        # Core connection cost a fraction of building an ORM query each time.
        user = (HistoryRow.tenant_id == bindparam("t"), HistoryRow.user_id == bindparam("u"))
        self._q_stats = select(func.count(HistoryRow.pk), func.max(HistoryRow.pk)).where(*user)
        by_pk = select(*_ITEM_COLUMNS).where(*user,
                                             HistoryRow.pk.in_(bindparam("pks", expanding=True)))
        self._q_by_pk = by_pk
        self._q_by_pk_kinds = by_pk.where(HistoryRow.kind.in_(bindparam("kinds", expanding=True)))
        self._q_vectors = (
            select(ItemVectorsRow.pk, ItemVectorsRow.context, ItemVectorsRow.reply)
            .join(HistoryRow, HistoryRow.pk == ItemVectorsRow.pk)
            .where(*user, ItemVectorsRow.pk.in_(bindparam("pks", expanding=True)),
                   ItemVectorsRow.model == bindparam("m")))

    # --- reads
    def stats(self, tenant_id: int, user_id: str) -> tuple[int, int]:
        """(row count, max pk) for one user: what an up-to-date index must hold."""
        with self.db.engine.connect() as c:
            n, top = c.execute(self._q_stats, {"t": tenant_id, "u": user_id}).one()
        return int(n), int(top or 0)

    def all_stats(self) -> dict[UserKey, tuple[int, int]]:
        with self.db.session() as s:
            rows = s.execute(
                select(HistoryRow.tenant_id, HistoryRow.user_id, func.count(HistoryRow.pk),
                       func.max(HistoryRow.pk))
                .group_by(HistoryRow.tenant_id, HistoryRow.user_id)
            ).all()
        return {(t, u): (int(n), int(m)) for t, u, n, m in rows}

    def embeddings(self, tenant_id: int, user_id: str, *, after_pk: int = 0,
                   dim: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored vectors with pk > ``after_pk``: (pks int64, vectors float32 (n, dim))."""
        with self.db.session() as s:
            rows = s.execute(
                select(HistoryRow.pk, HistoryRow.embedding)
                .where(HistoryRow.tenant_id == tenant_id, HistoryRow.user_id == user_id,
                       HistoryRow.pk > after_pk)
                .order_by(HistoryRow.pk)
            ).all()
        pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return pks, np.zeros((0, dim), dtype=np.float32)
        blobs = [self.keys.open(tenant_id, user_id, r[1]) for r in rows]
        vecs = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), -1)
        return pks, vecs

    def items_by_pk(self, tenant_id: int, user_id: str, pks: Sequence[int], *,
                    kinds: Sequence[str] | None = None) -> dict[int, StoredItem]:
        if not len(pks):
            return {}
        params = {"t": tenant_id, "u": user_id, "pks": [int(p) for p in pks]}
        q = self._q_by_pk
        if kinds:
            q, params["kinds"] = self._q_by_pk_kinds, list(kinds)
        with self.db.engine.connect() as c:
            rows = list(c.execute(q, params))
        return {r.pk: to_item(self.keys, tenant_id, user_id, r) for r in rows}

    def item_vectors(self, tenant_id: int, user_id: str, pks: Sequence[int], *,
                     model: str) -> dict[int, tuple[np.ndarray | None, np.ndarray | None]]:
        """pk -> (context vector, reply vector) stored by ``model`` for these items."""
        if not len(pks):
            return {}
        params = {"t": tenant_id, "u": user_id, "pks": [int(p) for p in pks], "m": model}
        with self.db.engine.connect() as c:
            rows = list(c.execute(self._q_vectors, params))

        def o(blob):
            return _vec(self.keys.open(tenant_id, user_id, blob))

        return {r.pk: (o(r.context), o(r.reply)) for r in rows}

    def existing(self, s: Session, tenant_id: int, user_id: str,
                 item_ids: Sequence[str]) -> dict[str, StoredItem]:
        rows = s.execute(select(*_ITEM_COLUMNS).where(
            HistoryRow.tenant_id == tenant_id, HistoryRow.user_id == user_id,
            HistoryRow.item_id.in_(list(item_ids))))
        return {r.item_id: to_item(self.keys, tenant_id, user_id, r) for r in rows}

    def page(self, tenant_id: int, user_id: str, *, limit: int,
             cursor: str | None) -> tuple[list[StoredItem], str | None]:
        after = decode_cursor(cursor) if cursor else 0
        with self.db.session() as s:
            rows = s.execute(
                select(*_ITEM_COLUMNS)
                .where(HistoryRow.tenant_id == tenant_id, HistoryRow.user_id == user_id,
                       HistoryRow.pk > after)
                .order_by(HistoryRow.pk).limit(limit + 1)
            ).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return ([to_item(self.keys, tenant_id, user_id, r) for r in rows],
                encode_cursor(rows[-1].pk) if more else None)

    def recent(self, tenant_id: int, user_id: str, *, kinds: Sequence[str] | None,
               limit: int) -> list[StoredItem]:
        q = (select(*_ITEM_COLUMNS)
             .where(HistoryRow.tenant_id == tenant_id, HistoryRow.user_id == user_id)
             .order_by(func.coalesce(HistoryRow.timestamp, HistoryRow.created_at).desc(),
                       HistoryRow.pk.desc())
             .limit(limit))
        if kinds:
            q = q.where(HistoryRow.kind.in_(list(kinds)))
        with self.db.session() as s:
            rows = list(s.execute(q))
        return [to_item(self.keys, tenant_id, user_id, r) for r in rows]

    def tenant_texts(self, tenant_id: int, *, kinds: Sequence[str], limit: int,
                     max_chars: int) -> list[tuple[str, str]]:
        """(user_id, text) of the tenant's most recent items of ``kinds`` across all its
        users, texts of at most ``max_chars`` only (the shared response set)."""
        # Texts are sealed per user, so the database sees only their sealed length: a bound
        # that keeps every text of up to max_chars characters (4 bytes each at most); the
        # exact length is checked once opened.
        sealed_max = len(TEXT_PREFIX) + 4 * -(-(4 * max_chars + 40) // 3)
        q = (select(HistoryRow.user_id, HistoryRow.text)
             .where(HistoryRow.tenant_id == tenant_id, HistoryRow.kind.in_(list(kinds)),
                    func.length(HistoryRow.text) <= sealed_max)
             .order_by(HistoryRow.pk.desc()).limit(limit))
        with self.db.session() as s:
            rows = list(s.execute(q))
        out = []
        for user_id, text in rows:
            try:
                text = self.keys.open_text(tenant_id, user_id, text)
            except KeyDestroyed:  # a user being forgotten: their rows are on their way out
                continue
            if len(text) <= max_chars:
                out.append((user_id, text))
        return out

    def count(self, tenant_id: int, user_id: str) -> int:
        return self.stats(tenant_id, user_id)[0]

    def stale_models(self, model: str) -> int:
        """How many rows were embedded by another model than ``model``."""
        with self.db.session() as s:
            return int(s.scalar(select(func.count(HistoryRow.pk))
                                .where(HistoryRow.model != model)) or 0)

    def rows_with_other_model(self, model: str, *,
                              limit: int) -> list[tuple[int, UserKey, StoredItem]]:
        """(pk, user, opened item) of the next rows embedded by another model."""
        with self.db.session() as s:
            rows = list(s.execute(select(*_ITEM_COLUMNS, HistoryRow.tenant_id,
                                         HistoryRow.user_id)
                                  .where(HistoryRow.model != model)
                                  .order_by(HistoryRow.pk).limit(limit)))
        return [(r.pk, (r.tenant_id, r.user_id), to_item(self.keys, r.tenant_id, r.user_id, r))
                for r in rows]

    def missing_vectors(self, model: str) -> int:
        """How many items lack request vectors made by ``model`` (old stores, model swaps)."""
        with self.db.session() as s:
            return int(s.scalar(self._q_missing(model, select(func.count(HistoryRow.pk)))) or 0)

    def rows_missing_vectors(self, model: str, *, after_pk: int,
                             limit: int) -> list[tuple[int, UserKey, str, str | None]]:
        """(pk, user, text, context) of the next items lacking vectors by ``model``."""
        q = self._q_missing(model, select(HistoryRow.pk, HistoryRow.tenant_id,
                                          HistoryRow.user_id, HistoryRow.text,
                                          HistoryRow.context))
        with self.db.session() as s:
            rows = list(s.execute(q.where(HistoryRow.pk > after_pk)
                                  .order_by(HistoryRow.pk).limit(limit)))
        return [(r.pk, (r.tenant_id, r.user_id), self.keys.open_text(r.tenant_id, r.user_id, r.text),
                 self.keys.open_text(r.tenant_id, r.user_id, r.context)) for r in rows]

    @staticmethod
    def _q_missing(model: str, q):
        return (q.outerjoin(ItemVectorsRow, ItemVectorsRow.pk == HistoryRow.pk)
                .where((ItemVectorsRow.pk.is_(None)) | (ItemVectorsRow.model != model)))

    def set_item_vectors(self, model: str,
                         rows: Sequence[tuple[int, bytes | None, bytes | None]]) -> None:
        """Store (pk, context, reply) vectors (sealed: ``seal_vec``), replacing older ones;
        one transaction."""
        with self.db.session() as s:
            alive = set(s.scalars(select(HistoryRow.pk).where(
                HistoryRow.pk.in_([r[0] for r in rows]))))  # not deleted meanwhile
            for pk, ctx, reply in rows:
                if pk in alive:
                    s.merge(ItemVectorsRow(pk=pk, model=model, context=ctx, reply=reply))

    def set_embeddings(self, model: str, updates: Sequence[tuple[int, bytes]]) -> None:
        """Replace (pk, sealed embedding) of existing rows."""
        with self.db.session() as s:
            for pk, blob in updates:
                row = s.get(HistoryRow, pk)
                if row is not None:
                    row.embedding, row.model = blob, model

    # --- deletes
    def delete_user_rows(self, s: Session, tenant_id: int, user_id: str) -> int:
        res = s.execute(delete(HistoryRow).where(HistoryRow.tenant_id == tenant_id,
                                                 HistoryRow.user_id == user_id))
        return int(res.rowcount or 0)
