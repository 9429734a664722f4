"""Per-user data keys: stored wrapped in ``user_keys``, cached unwrapped in memory.

``writer(t, u)`` is the key new values are sealed with: always checked against the
store (one indexed read), created on first use. Two replicas creating a user's
first key at once both insert; the primary key lets one win and the other reads
the winner's, so a user never has two. ``open*`` read sealed values: the key id in
the value picks the key; a cached key is used for at most ``ttl_s`` and only while
its id matches, so after a forget on another replica a lookup here misses within
``ttl_s`` (and the rows it would have opened are gone already). ``destroy`` deletes
the key (forget) and drops it from this process's cache at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.crypto import (
    TEXT_PREFIX,
    DataKey,
    KeyDestroyed,
    MasterKeys,
    sealed_key_id,
    text_token,
)
from gateway.core.db import BIG_ID, Base, Database, utcnow

log = logging.getLogger(__name__)


class UserKeyRow(Base):
    __tablename__ = "user_keys"
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key_id: Mapped[int] = mapped_column(BIG_ID, unique=True)  # random; named in every value
    master_key_id: Mapped[str] = mapped_column(String(32))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)  # nonce | AES-GCM(master, data key)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def sealed_token(value: bytes | str | None) -> bytes | None:
    """The sealed bytes a stored value holds, or None when it is plaintext (stored
    before encryption) or None: the one place that tells them apart. Text is sealed
    when it carries ``TEXT_PREFIX`` (its token is then opened, whatever it holds);
    bytes when they start with the sealed header (``sealed_key_id`` names a key)."""
    if isinstance(value, str):
        return text_token(value) if value.startswith(TEXT_PREFIX) else None
    return None if sealed_key_id(value) is None else bytes(value)


def _aad(tenant_id: int, user_id: str, key_id: int) -> bytes:
    return f"persona-data-key:{tenant_id}:{user_id}:{key_id}".encode()


class Keyring:
    def __init__(self, db: Database, master: MasterKeys, *, ttl_s: float = 5.0,
                 max_cached: int = 10_000):
        self.db = db
        self.master = master
        self.ttl_s = ttl_s
        self.max_cached = max_cached
        self._cache: OrderedDict[tuple[int, str], tuple[float, DataKey]] = OrderedDict()
        self._lock = threading.Lock()

    # --- keys
    def writer(self, tenant_id: int, user_id: str) -> DataKey:
        """The user's current key, checked against the store; made if they have none."""
        row = self._row(tenant_id, user_id)
        if row is None:
            row = self._create(tenant_id, user_id)
        return self._unwrapped(tenant_id, user_id, row)

    def existing(self, tenant_id: int, user_id: str) -> DataKey | None:
        """The user's current key from the store, or None (never creates one)."""
        row = self._row(tenant_id, user_id)
        return None if row is None else self._unwrapped(tenant_id, user_id, row)

    def reader(self, tenant_id: int, user_id: str, key_id: int) -> DataKey:
        """The key a value sealed under ``key_id`` needs (cached up to ``ttl_s``)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((tenant_id, user_id))
        if hit is not None and hit[0] > now and hit[1].key_id == key_id:
            return hit[1]
        key = self.existing(tenant_id, user_id)
        if key is None or key.key_id != key_id:
            raise KeyDestroyed(
                "this value was sealed under a data key that has been destroyed (the user "
                "was forgotten, perhaps while this was written); send DELETE "
                f"/v1/users/{user_id} again to remove what is left")
        return key

    def destroy(self, tenant_id: int, user_id: str) -> bool:
        """Forget: delete the user's data key; True if there was one."""
        with self._lock:
            self._cache.pop((tenant_id, user_id), None)
        with self.db.session() as s:
            n = s.execute(delete(UserKeyRow).where(UserKeyRow.tenant_id == tenant_id,
                                                   UserKeyRow.user_id == user_id)).rowcount
        with self._lock:
            self._cache.pop((tenant_id, user_id), None)
        return bool(n)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # --- values
    def open(self, tenant_id: int, user_id: str, token: bytes | None) -> bytes | None:
        sealed = sealed_token(token)
        if sealed is None:
            return None if token is None else bytes(token)  # plaintext (pre-encryption row)
        return self._unseal(tenant_id, user_id, sealed)

    def open_text(self, tenant_id: int, user_id: str, value: str | None) -> str | None:
        sealed = sealed_token(value)
        return value if sealed is None else self._unseal(tenant_id, user_id, sealed).decode()

    def open_json(self, tenant_id: int, user_id: str, value):
        sealed = sealed_token(value) if isinstance(value, str) else None
        return value if sealed is None else json.loads(self._unseal(tenant_id, user_id, sealed).decode())

    # --- start-up and rotation
    def verify(self) -> int:
        """Refuse to start with master keys that cannot unwrap the stored data keys:
        one key per master key id in use is unwrapped. Returns how many were checked."""
        with self.db.session() as s:
            ids = list(s.scalars(select(UserKeyRow.master_key_id).distinct()))
            for mid in ids:
                row = s.scalars(select(UserKeyRow).where(UserKeyRow.master_key_id == mid)
                                .limit(1)).one()
                self.master.unwrap(mid, row.wrapped, _aad(row.tenant_id, row.user_id,
                                                          row.key_id))
        return len(ids)

    def rotate(self, *, batch: int = 500) -> int:
        """Re-wrap every data key not under the active master key with it (the data
        stays as it is: its data keys do not change). Returns how many were re-wrapped."""
        done = 0
        while True:
            with self.db.session() as s:
                rows = list(s.scalars(select(UserKeyRow)
                                      .where(UserKeyRow.master_key_id != self.master.active)
                                      .limit(batch).with_for_update()))
                for row in rows:
                    aad = _aad(row.tenant_id, row.user_id, row.key_id)
                    raw = self.master.unwrap(row.master_key_id, row.wrapped, aad)
                    row.master_key_id, row.wrapped = self.master.wrap(raw, aad)
            done += len(rows)
            if len(rows) < batch:
                return done

    # --- internals
    def _unseal(self, tenant_id: int, user_id: str, token: bytes) -> bytes:
        return self.reader(tenant_id, user_id, sealed_key_id(token)).open(token)

    def _row(self, tenant_id: int, user_id: str) -> UserKeyRow | None:
        with self.db.session() as s:
            return s.get(UserKeyRow, (tenant_id, user_id))

    def _create(self, tenant_id: int, user_id: str) -> UserKeyRow:
        raw, key_id = secrets.token_bytes(32), secrets.randbits(62) + 1
        mid, wrapped = self.master.wrap(raw, _aad(tenant_id, user_id, key_id))
        row = UserKeyRow(tenant_id=tenant_id, user_id=user_id, key_id=key_id,
                         master_key_id=mid, wrapped=wrapped)
        try:
            with self.db.session() as s:
                s.add(row)
        except IntegrityError:  # another replica (or thread) made the user's key first
            won = self._row(tenant_id, user_id)
            if won is None:
                raise
            return won
        return row

    def _unwrapped(self, tenant_id: int, user_id: str, row: UserKeyRow) -> DataKey:
        with self._lock:
            hit = self._cache.get((tenant_id, user_id))
        if hit is not None and hit[1].key_id == row.key_id:
            key = hit[1]
        else:
            key = DataKey(row.key_id, self.master.unwrap(
                row.master_key_id, row.wrapped, _aad(tenant_id, user_id, row.key_id)))
        with self._lock:
            self._cache[(tenant_id, user_id)] = (time.monotonic() + self.ttl_s, key)
            self._cache.move_to_end((tenant_id, user_id))
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        return key
