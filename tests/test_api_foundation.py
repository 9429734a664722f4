"""Auth, error format, request ids, operations endpoints."""

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import create_key, revoke_key
from tests.conftest import wait_ready
from tests.dbrows import rows_with

pytestmark = pytest.mark.both_backends


def assert_error(resp, status, type_=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["message"] and err["request_id"] == resp.headers["X-Request-ID"]
    if type_:
        assert err["type"] == type_
    return err


def test_health_ready_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "persona_http_requests_total" in metrics.text
    assert "persona_ready 1.0" in metrics.text


def test_v1_without_key_is_401_in_api_format(client):
    err = assert_error(client.post("/v1/feedback", json={}), 401, "unauthorized")
    assert "Authorization: Bearer" in err["message"]


def test_unknown_and_revoked_keys_are_401(client, services, admin_key):
    assert_error(client.post("/v1/feedback", json={},
                             headers={"Authorization": "Bearer pk_wrong"}), 401)
    assert_error(client.post("/v1/feedback", json={},
                             headers={"Authorization": f"Basic {admin_key}"}), 401)
    key_id = max(k.id for k in __import__("gateway.auth").auth.list_keys(services.db))
    revoke_key(services.db, key_id)
    assert_error(client.post("/v1/feedback", json={},
                             headers={"Authorization": f"Bearer {admin_key}"}), 401)


def test_keys_are_stored_hashed(services, admin_key, backend):
    assert rows_with(services.db, admin_key) == []
    assert rows_with(services.db, admin_key[:10])  # the prefix is stored: the check can see
    if backend == "sqlite":
        assert admin_key.encode() not in services.db.path.read_bytes()


def test_client_key_cannot_use_admin_routes(client, client_key):
    err = assert_error(client.delete("/v1/users/u1",
                                     headers={"Authorization": f"Bearer {client_key}"}),
                       403, "forbidden")
    assert "admin" in err["message"]


def test_unknown_field_is_422_naming_it(client, auth):
    err = assert_error(client.post("/v1/feedback", headers=auth, json={
        "request_id": "r1", "index": 0, "event": "shown", "surprise": 1}), 422, "invalid_request")
    assert err["field"] == "surprise"


def test_bad_enum_is_422_naming_the_field(client, auth):
    err = assert_error(client.post("/v1/feedback", headers=auth, json={
        "request_id": "r1", "index": 0, "event": "liked"}), 422)
    assert err["field"] == "event"


def test_malformed_json_is_422(client, auth):
    resp = client.post("/v1/feedback", headers={**auth, "Content-Type": "application/json"},
                       content=b"{not json")
    assert_error(resp, 422)


def test_body_too_large_is_413(client, auth, settings):
    big = "x" * (settings.max_body_bytes + 10)
    err = assert_error(client.post("/v1/feedback", headers=auth, json={
        "request_id": "r", "index": 0, "event": "sent", "final_text": big}), 413,
        "payload_too_large")
    assert err["field"] == "body"


def test_unknown_route_uses_error_format(client):
    assert_error(client.get("/v1/nope"), 404, "not_found")


def test_request_id_is_echoed_and_overhead_reported(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    assert float(r.headers["X-Gateway-Overhead-Ms"]) >= 0
    r2 = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r2.headers["X-Request-ID"] != "bad id with spaces"
    assert len(r2.headers["X-Request-ID"]) == 32


def test_feedback_for_unknown_request_is_404(client, auth):
    err = assert_error(client.post("/v1/feedback", headers=auth, json={
        "request_id": "never-served", "index": 0, "event": "sent"}), 404)
    assert err["field"] == "request_id"


def test_rate_limit_is_429_with_retry_after(tmp_path, fake):
    from gateway.core.settings import Settings

    s = Settings(data_dir=tmp_path / "d", models=["fake/test"], embedding_model="hash",
                 load_models=False, rate_limit_per_minute=2)
    with TestClient(create_app(s)) as c:
        wait_ready(c)
        key = create_key(c.app.state.services.db, tenant="t", scope="admin")
        h = {"Authorization": f"Bearer {key}"}
        codes = [c.post("/v1/feedback", headers=h, json={}).status_code for _ in range(3)]
        assert codes[:2] == [422, 422]
        assert codes[2] == 429
        r = c.post("/v1/feedback", headers=h, json={})
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["type"] == "rate_limited"


def test_readyz_is_503_until_loaded(tmp_path, fake):
    from gateway.core.settings import Settings
    from gateway.services import build_services

    s = Settings(data_dir=tmp_path / "d", models=["fake/test"], embedding_model="hash",
                 load_models=False)
    services = build_services(s)
    app = create_app(s, services=services)
    # hold the loader so we can observe the not-ready state
    import threading

    import gateway.app as app_mod

    gate = threading.Event()
    real_start = app_mod.start_services

    def slow_start(svc, **kwargs):
        gate.wait(10)
        real_start(svc, **kwargs)

    app_mod.start_services = slow_start
    try:
        with TestClient(app) as c:
            r = c.get("/readyz")
            assert_error(r, 503, "not_ready")
            assert c.get("/healthz").status_code == 200
            gate.set()
            wait_ready(c)
    finally:
        app_mod.start_services = real_start


@pytest.mark.e2e
def test_real_models_load_and_answer_ready(e2e_client, e2e_auth):
    r = e2e_client.get("/readyz", headers=e2e_auth)  # details need an admin key
    assert r.status_code == 200
    assert set(r.json()["load_seconds"]) >= {"embedder", "local_llm"}
