"""What the operational endpoints reveal, and the HTTP contract at its edges: strict
input types, a truthful OpenAPI document, 405s that list every method."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gateway.app import create_app
from gateway.auth import create_key
from gateway.core.settings import Settings
from tests.conftest import wait_ready
from tests.smart_reply_helpers import body

TOKEN = "metrics-token-0123456789"


@pytest.fixture
def guarded(settings):
    """An app with docs off and a metrics token, as production is advised to run."""
    s = Settings(**{**settings.model_dump(), "metrics_token": TOKEN, "docs_enabled": False})
    with TestClient(create_app(s)) as c:
        wait_ready(c)
        yield c


def test_metrics_need_the_token_when_one_is_set(guarded):
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "persona_ready 1.0" in r.text


def test_docs_and_schema_can_be_turned_off(guarded):
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert guarded.get(path).status_code == 404, path


def test_readyz_names_the_model_chain_only_to_the_operator(guarded):
    services = guarded.app.state.services
    admin = create_key(services.db, tenant="acme", scope="admin")
    client = create_key(services.db, tenant="acme", scope="client")
    assert guarded.get("/readyz").json() == {"status": "ready"}
    assert guarded.get("/readyz", headers={"Authorization": f"Bearer {client}"}).json() == {
        "status": "ready"}
    for secret in (admin, TOKEN):
        data = guarded.get("/readyz", headers={"Authorization": f"Bearer {secret}"}).json()
        assert data["models"] == ["fake/test"]
        assert "load_seconds" in data


def test_default_readyz_hides_the_model_chain_too(client):
    assert client.get("/readyz").json() == {"status": "ready"}


def test_a_short_metrics_token_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(data_dir=tmp_path, load_models=False, metrics_token="short")
    assert Settings(data_dir=tmp_path, load_models=False, metrics_token="").metrics_token is None


def test_405_lists_every_method_of_the_path(client, auth):
    r = client.patch("/v1/users/u1/history", headers=auth)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert r.json()["error"]["type"] == "method_not_allowed"
    r = client.post("/v1/users/u1/preferences", headers=auth)
    assert {m.strip() for m in r.headers["Allow"].split(",")} >= {"GET", "PUT"}


@pytest.mark.parametrize("path,payload,field", [
    ("/v1/smart-replies", body(n=True), "n"),
    ("/v1/smart-replies", body(max_chars="200"), "max_chars"),
    ("/v1/subject-lines", {"campaign": {"body": "Our spring sale starts Monday."}, "emoji": 0},
     "emoji"),
    ("/v1/subject-lines", {"campaign": {"body": "Our spring sale starts Monday."}, "n": 2.0},
     "n"),
    ("/v1/users/u1/history",
     {"items": [{"id": "a", "kind": "note", "text": "hi", "timestamp": 0}]}, "items.0.timestamp"),
    ("/v1/feedback", {"request_id": "r1", "index": "0", "event": "shown"}, "index"),
])
def test_wrong_json_types_are_422_not_coerced(client, auth, path, payload, field):
    r = client.post(path, json=payload, headers=auth)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_preferences_refuse_a_number_for_a_flag(client, auth):
    r = client.put("/v1/users/u1/preferences", json={"personalization": 1}, headers=auth)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "personalization"


def test_iso_timestamps_still_parse(client, auth):
    items = [{"id": "a", "kind": "note", "text": "hi", "timestamp": "2026-01-31T09:30:00Z"},
             {"id": "b", "kind": "note", "text": "yo", "timestamp": "2026-01-31T09:30:00+02:00"}]
    assert client.post("/v1/users/u1/history", json={"items": items},
                       headers=auth).status_code == 200
    got = client.get("/v1/users/u1/history", headers=auth).json()["items"]
    assert [i["timestamp"][:16] for i in got] == ["2026-01-31T09:30", "2026-01-31T07:30"]


def test_unparsable_body_is_a_documented_400(client, auth):
    r = client.post("/v1/feedback", content=b'{"request_id": "\xff"}', headers={
        **auth, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "bad_request"
    spec = client.get("/openapi.json").json()
    assert "400" in spec["paths"]["/v1/feedback"]["post"]["responses"]


def test_openapi_documents_what_the_routes_answer(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "404" in paths["/v1/feedback"]["post"]["responses"]
    ok = paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(ok) == ["text/plain"]
    assert "503" in paths["/readyz"]["get"]["responses"]


def test_smart_reply_metrics_are_labelled_with_the_tenant_name(client, auth, fake):
    fake.enqueue("Friday works for me.")
    assert client.post("/v1/smart-replies", json=body(), headers=auth).status_code == 200
    suggestions = [line for line in client.get("/metrics").text.splitlines()
                   if line.startswith("persona_suggestions_total{")]
    assert suggestions and all('tenant="acme"' in line for line in suggestions), suggestions
