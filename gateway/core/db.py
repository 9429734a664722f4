"""SQLAlchemy engine and session factory, for SQLite (the default) or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed transaction survives
a crash, and ``secure_delete`` so deleted rows are overwritten on disk. PostgreSQL
is durable on commit by default; its sessions run in UTC so stored times read back
the same on both engines. Every model is plain SQLAlchemy: the same tables work on both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import BigInteger, Integer, create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

SQLITE_MAX_INT = 2**63 - 1  # an input int above this cannot be bound to a query: check first
# (also PostgreSQL's BIGINT bound, so one check serves both engines)

# A key that takes values from clients (cursors, key ids): 64-bit on PostgreSQL, where
# INTEGER is 32-bit; SQLite's INTEGER PRIMARY KEY is already 64-bit (and must stay
# INTEGER to be the rowid).
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def sqlite_url(db_path: Path) -> str:
    return f"sqlite:///{db_path}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite gets its pragmas, PostgreSQL a bounded pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                             pool_recycle=1800, connect_args={"options": "-c timezone=UTC"})
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # No pre-ping: a connection to a local file cannot go stale, and the ping was a
    # round trip on every session of every request (~8% of the CPU at c=50).
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


class Database:
    """Owns the engine; hands out sessions that commit or roll back as a unit."""

    def __init__(self, where: Path | str):
        """``where``: a SQLite file path or an SQLAlchemy URL."""
        self.url = sqlite_url(where) if isinstance(where, Path) else where
        self.engine = make_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.path = Path(self.engine.url.database) if self.is_sqlite else None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        """Create the missing tables of every table module imported so far.

        Each table module declares its tables on ``Base`` when it is imported; this
        module imports none of them. The gateway's ``gateway.storage.create_tables``
        imports all of its own and also upgrades old layouts."""
        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def checkpoint_wal(self, *, attempts: int = 20) -> bool:
        """Fold the WAL into the main file and truncate it, retrying while readers hold it.

        After a delete this is what makes the deleted text leave the disk: secure_delete
        zeroes the freed pages of the main file, and a truncated WAL holds no old frames.
        Returns False if a reader kept the WAL busy for every attempt. On PostgreSQL
        there is no WAL file of ours to fold: a committed delete is final, and its
        dead rows are reclaimed by (auto)vacuum; returns True.
        """
        if not self.is_sqlite:
            return True
        for i in range(attempts):
            with self.engine.connect() as conn:
                busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if not busy:
                return True
            time.sleep(0.02 * (i + 1))
        return False

    def close(self) -> None:
        self.engine.dispose()
