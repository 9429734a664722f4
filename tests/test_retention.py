"""Retention: generations, explanations and feedback older than retention_days are
purged and nothing newer; incoming text is kept only while feedback can refer to it,
or never (only its hash) for tenants that ask."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.core.db import utcnow
from gateway.tables import Explanation, Feedback, Generation
from gateway.usecases.retention import purge
from tests.smart_reply_helpers import MEETING, body

pytestmark = pytest.mark.both_backends


def _serve_with_feedback(client, auth, fake) -> str:
    fake.enqueue("Sure, Friday at 3pm works for me.")
    rid = client.post("/v1/smart-replies", json=body(), headers=auth).json()["request_id"]
    r = client.post("/v1/feedback", json={"request_id": rid, "index": 0, "event": "shown"},
                    headers=auth)
    assert r.status_code == 202, r.text
    return rid


def _age(services, rid: str, days: float) -> None:
    when = utcnow() - timedelta(days=days)
    with services.db.session() as s:
        for table in (Generation, Explanation, Feedback):
            s.execute(update(table).where(table.request_id == rid).values(created_at=when))


def _rows(services, table, rid):
    with services.db.session() as s:
        return s.scalars(select(table).where(table.request_id == rid)).all()


def test_purge_deletes_what_is_older_than_retention_and_nothing_newer(client, auth, fake,
                                                                      services):
    old = _serve_with_feedback(client, auth, fake)
    edge = _serve_with_feedback(client, auth, fake)
    new = _serve_with_feedback(client, auth, fake)
    days = services.settings.retention_days
    _age(services, old, days + 1)
    _age(services, edge, days - 1)
    done = purge(services)
    assert (done.generations, done.explanations, done.feedback) == (1, 1, 1)
    for table in (Generation, Explanation, Feedback):
        assert _rows(services, table, old) == []
        assert len(_rows(services, table, edge)) == 1
        assert len(_rows(services, table, new)) == 1
    assert client.get(f"/v1/requests/{old}", headers=auth).status_code == 404
    assert client.get(f"/v1/requests/{new}", headers=auth).status_code == 200
    assert 'persona_retention_purged_total{table="generations"} 1.0' in \
        client.get("/metrics").text


def test_input_text_is_cleared_after_the_feedback_window(client, auth, fake, services):
    stale = _serve_with_feedback(client, auth, fake)
    fresh = _serve_with_feedback(client, auth, fake)
    _age(services, stale, services.settings.feedback_window_days + 1)
    assert purge(services).inputs_cleared == 1
    assert _rows(services, Generation, stale)[0].input_text == ""
    row = _rows(services, Generation, fresh)[0]  # stored sealed with the user's data key
    assert services.keys.open_text(row.tenant_id, row.user_id, row.input_text) == MEETING["body"]
    # The generation and its explanation remain; feedback on it is refused, saying why.
    assert client.get(f"/v1/requests/{stale}", headers=auth).status_code == 200
    r = client.post("/v1/feedback", json={"request_id": stale, "index": 0, "event": "sent"},
                    headers=auth)
    assert r.status_code == 422
    assert "PERSONA_FEEDBACK_WINDOW_DAYS" in r.json()["error"]["message"]


def test_hashing_tenant_stores_only_the_hash(tmp_path, fake):
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.auth import create_key
    from gateway.core.settings import Settings
    from tests.conftest import wait_ready

    settings = Settings(data_dir=tmp_path / "data", models=["fake/test"],
                        embedding_model="hash", load_models=False, rate_limit_per_minute=0,
                        hash_input_tenants=["acme"])
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        services = client.app.state.services
        auth = {"Authorization": f"Bearer {create_key(services.db, tenant='acme', scope='admin')}"}
        fake.enqueue("Sure, Friday at 3pm works for me.")
        rid = client.post("/v1/smart-replies", json=body(), headers=auth).json()["request_id"]
        assert _rows(services, Generation, rid)[0].input_text == ""
        expected = hashlib.sha256(MEETING["body"].encode()).hexdigest()
        assert _rows(services, Explanation, rid)[0].input_hash == expected
        # Feedback still works: the history item has no message as context.
        r = client.post("/v1/feedback", json={"request_id": rid, "index": 0, "event": "sent"},
                        headers=auth)
        assert r.status_code == 202, r.text
        page = client.get("/v1/users/u1/history", headers=auth).json()
        assert page["items"][0]["context"] is None


def test_feedback_window_cannot_outlast_retention():
    import pytest
    from pydantic import ValidationError

    from gateway.core.settings import Settings

    with pytest.raises(ValidationError, match="PERSONA_FEEDBACK_WINDOW_DAYS"):
        Settings(models=["fake/test"], load_models=False, retention_days=5,
                 feedback_window_days=7)
