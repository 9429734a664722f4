"""Shared fixtures.

Unit tests run the real app (lifespan, routes, litellm path) with a scripted fake
model (``fake/test``, tests/fakes.py, installed as a litellm provider by the ``fake``
fixture) and the hashing embedder. Tests marked ``e2e`` use the real
embedded models, loaded once per session.
"""

from __future__ import annotations

import time

import pytest

from gateway.core.offline import offline_env

offline_env()

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import create_key
from gateway.core.settings import LOCAL_MODEL, Settings
from tests.fakes import fake_installed
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


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", models=["fake/test"], embedding_model="hash",
                    load_models=False, rate_limit_per_minute=0, llm_timeout_s=5.0)


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
