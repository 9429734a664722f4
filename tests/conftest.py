"""Shared fixtures.

Unit tests run the real app (lifespan, routes, litellm path) with a scripted fake
model (``fake/test``, tests/fakes.py, installed as a litellm provider by the ``fake``
fixture) and the hashing embedder. Tests marked ``e2e`` use the real
embedded models, loaded once per session.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from gateway.core.offline import offline_env

offline_env()

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import create_key
from gateway.core.settings import LOCAL_MODEL, Settings
from tests.fakes import fake_installed
from tests.keys import MASTER_KEYS
from tests.redis_fixtures import redis_server, redis_url  # noqa: F401 (fixtures)


def wait_ready(client: TestClient, timeout_s: float = 180.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        r = client.get("/readyz")
        if r.status_code == 200:
            return
        loader = client.app.state.loader
        if loader.done() and loader.exception() is not None:
            raise loader.exception()
        time.sleep(0.05)
    raise TimeoutError("gateway did not become ready")


BACKENDS = ("sqlite", "postgres")


def pytest_addoption(parser):
    parser.addoption("--backends", default=",".join(BACKENDS), help=(
        "Comma-separated database backends that tests marked both_backends run on "
        f"(default: {','.join(BACKENDS)}; postgres starts embedded PostgreSQL)."))


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
            "both_backends"):
        chosen = [b.strip() for b in metafunc.config.getoption("--backends").split(",")]
        unknown = set(chosen) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"--backends: unknown {sorted(unknown)}; use {BACKENDS}")
        metafunc.parametrize("backend", chosen, indirect=True)


@pytest.fixture
def backend(request) -> str:
    """The database engine of this test: both for both_backends tests, else SQLite."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres():
    """Embedded PostgreSQL 18 + pgvector on a loopback port, for the whole session."""
    from tests.postgres import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="persona-pg-"))
    server = EmbeddedPostgres(root)
    try:
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_url(request, backend) -> str | None:
    """None (the SQLite file under data_dir) or a fresh PostgreSQL database's URL."""
    if backend == "sqlite":
        yield None
        return
    with request.getfixturevalue("postgres").database() as url:
        yield url


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    # SQLite: the embedded default's master key file; PostgreSQL needs the setting.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, models=["fake/test"],
                    embedding_model="hash", load_models=False, rate_limit_per_minute=0,
                    llm_timeout_s=5.0, master_keys=MASTER_KEYS if database_url else None)


@pytest.fixture
def fake():
    with fake_installed() as f:
        yield f


@pytest.fixture
def app(settings, fake):
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        wait_ready(c)
        yield c


@pytest.fixture
def services(client):
    return client.app.state.services


@pytest.fixture
def admin_key(services) -> str:
    return create_key(services.db, tenant="acme", scope="admin")


@pytest.fixture
def client_key(services) -> str:
    return create_key(services.db, tenant="acme", scope="client")


@pytest.fixture
def auth(admin_key) -> dict:
    return {"Authorization": f"Bearer {admin_key}"}


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("e2e") / "data", models=[LOCAL_MODEL],
                    rate_limit_per_minute=0, load_models=True)


@pytest.fixture(scope="session")
def e2e_client(e2e_settings):
    """The gateway on the real embedded models (loaded once for the session)."""
    with TestClient(create_app(e2e_settings)) as c:
        wait_ready(c)
        yield c


@pytest.fixture(scope="session")
def e2e_auth(e2e_client) -> dict:
    key = create_key(e2e_client.app.state.services.db, tenant="e2e", scope="admin")
    return {"Authorization": f"Bearer {key}"}
