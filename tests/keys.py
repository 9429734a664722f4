"""Master keys for tests: one fixed set for PostgreSQL settings, and a keyring helper
for tests that build a ``HistoryService`` without the app."""

from __future__ import annotations

from gateway.core.crypto import MasterKeys, new_master_key
from gateway.core.db import Database
from gateway.core.keyring import Keyring

MASTER_KEYS = new_master_key("test1")  # fresh per test session


def keyring(db: Database, spec: str = MASTER_KEYS, **kw) -> Keyring:
    return Keyring(db, MasterKeys.parse(spec), **kw)
