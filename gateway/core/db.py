"""SQLAlchemy engine and session factory.

SQLite in WAL mode with ``synchronous=FULL`` so a committed transaction survives
a crash, and ``secure_delete`` so deleted rows are overwritten on disk. Nothing
here is SQLite-specific beyond the pragmas: point ``database_url`` at PostgreSQL
and the same models work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

SQLITE_MAX_INT = 2**63 - 1  # an input int above this cannot be bound to a query: check first


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(db_path: Path) -> Engine:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{db_path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_pre_ping=True,
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

    def __init__(self, db_path: Path):
        self.path = db_path
        self.engine = make_engine(db_path)
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
        Returns False if a reader kept the WAL busy for every attempt.
        """
        for i in range(attempts):
            with self.engine.connect() as conn:
                busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if not busy:
                return True
            time.sleep(0.02 * (i + 1))
        return False

    def close(self) -> None:
        self.engine.dispose()
