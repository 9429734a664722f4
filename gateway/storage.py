"""The gateway's database: every table module it uses, created and brought up to date.

Table modules declare their tables on ``gateway.core.db.Base`` when imported; this is
the one place that imports all of the gateway's (its own records in ``gateway.tables``,
the history store's in ``embeddings.store``, the data keys in ``gateway.core.keyring``),
so the metadata is complete before ``create_all`` (and before Alembic's env reads it).
Whoever opens the gateway's store (``build_services``, the CLI) calls ``create_tables``.

``seal_plaintext`` is the data half of migration ``0002_user_keys``: it seals, with
each user's data key, the per-user values a store from before encryption holds in
plaintext, in batches (resumable: a sealed value is recognised and skipped).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Table, delete, select, tuple_, update

import embeddings.store  # noqa: F401  (registers history_items, history_vectors)
import gateway.tables  # noqa: F401  (registers tenants, keys, records)
from embeddings.store import HistoryRow, ItemVectorsRow
from gateway.core.db import Database
from gateway.core.keyring import Keyring, sealed_token  # (registers user_keys)
from gateway.tables import Explanation, Feedback, Generation, SealPending, UserPreferences

log = logging.getLogger(__name__)

# table -> (model, text columns, binary columns, JSON columns)
SEALED = {
    "history_items": (HistoryRow, ("text", "context", "subject"), ("embedding",), ()),
    "history_vectors": (ItemVectorsRow, (), ("context", "reply"), ()),
    "generations": (Generation, ("input_text",), (), ("outputs",)),
    "explanations": (Explanation, (), (), ("data",)),
    "feedback": (Feedback, ("final_text",), (), ()),
    "user_preferences": (UserPreferences, ("signature",), (), ()),
}


def create_tables(db: Database, *, migrations: Path | None = None) -> None:
    """A new database is made at head, an old data dir adopted, an out-of-date one refused."""
    from gateway import schema

    schema.ensure_schema(db, migrations=migrations)


def seal_plaintext(db: Database, keys: Keyring, *, batch: int = 500) -> dict[str, int]:
    """Seal what ``seal_pending`` names; returns the number of rows sealed per table."""
    with db.session() as s:
        pending = [n for n in s.scalars(select(SealPending.name)) if n in SEALED]
    done = {}
    for name in pending:
        done[name] = _seal_table(db, keys, name, batch=batch)
        with db.session() as s:
            s.execute(delete(SealPending).where(SealPending.name == name))
        if done[name]:
            log.warning("sealed %d rows of %s that were stored before encryption",
                        done[name], name)
    return done


def _plain(value, kind: str) -> bool:
    """A stored value written before encryption (a JSON column holds a sealed text or,
    plaintext, the JSON value itself)."""
    if value is None:
        return False
    if kind == "json" and not isinstance(value, str):
        return True
    return sealed_token(bytes(value) if kind == "blob" else value) is None


def _seal_table(db: Database, keys: Keyring, name: str, *, batch: int) -> int:
    model, text, blob, js = SEALED[name]
    t: Table = model.__table__
    pk = list(t.primary_key.columns)
    kinds = {**dict.fromkeys(text, "text"), **dict.fromkeys(blob, "blob"),
             **dict.fromkeys(js, "json")}
    if model is ItemVectorsRow:  # its user is its item's
        q = (select(*pk, HistoryRow.tenant_id.label("seal_tenant"), HistoryRow.user_id.label("seal_user"),
                    *(t.c[c] for c in kinds))
             .join(HistoryRow, HistoryRow.pk == ItemVectorsRow.pk))
    else:
        q = select(*pk, t.c.tenant_id.label("seal_tenant"), t.c.user_id.label("seal_user"),
                   *(t.c[c] for c in kinds)).where(t.c.user_id.is_not(None))
    sealed, last = 0, None
    while True:
        page = q if last is None else q.where(tuple_(*pk) > tuple_(*last))
        with db.engine.connect() as c:
            rows = list(c.execute(page.order_by(*pk).limit(batch)))
        if not rows:
            return sealed
        last = tuple(rows[-1][:len(pk)])
        todo = [r for r in rows if any(_plain(r._mapping[c], k) for c, k in kinds.items())]
        who = [(r._mapping["seal_tenant"], r._mapping["seal_user"]) for r in todo]
        users = {u: keys.writer(*u) for u in set(who)}  # before the write session
        with db.session() as s:
            for r, u in zip(todo, who):
                key, m = users[u], r._mapping
                values = {}
                for c, k in kinds.items():
                    if not _plain(m[c], k):
                        continue
                    values[c] = (key.seal_text(m[c]) if k == "text" else
                                 key.seal(bytes(m[c])) if k == "blob" else key.seal_json(m[c]))
                s.execute(update(t).where(*(col == m[col.name] for col in pk)).values(**values))
        sealed += len(todo)
