"""Feedback closes the loop: what the user sent becomes history."""

import pytest

from gateway.usecases.common import record_generation

pytestmark = pytest.mark.both_backends


def _served(services, tenant_id, *, task="smart_reply", user="u1", rid="req-1"):
    record_generation(services, request_id=rid, tenant_id=tenant_id, user_id=user, task=task,
                      input_text="Can we move Thursday's meeting to Friday?",
                      outputs=["Friday works.", "Sorry, I can't.", "What time?"],
                      model="fake/test", prompt_version="smart_reply_v1")


def _tenant_id(services, name="acme"):
    from gateway.auth import get_or_create_tenant

    return get_or_create_tenant(services.db, name)


def test_sent_reply_becomes_history(client, services, auth):
    _served(services, _tenant_id(services))
    r = client.post("/v1/feedback", headers=auth,
                    json={"request_id": "req-1", "index": 0, "event": "sent"})
    assert r.status_code == 202, r.text
    items = client.get("/v1/users/u1/history", headers=auth).json()["items"]
    assert [(i["kind"], i["text"], i["context"]) for i in items] == [
        ("sent_reply", "Friday works.", "Can we move Thursday's meeting to Friday?")]


def test_edited_reply_stores_the_final_text_and_is_idempotent(client, services, auth):
    _served(services, _tenant_id(services))
    body = {"request_id": "req-1", "index": 1, "event": "edited",
            "final_text": "Sorry, Friday is full. Monday?"}
    assert client.post("/v1/feedback", headers=auth, json=body).status_code == 202
    assert client.post("/v1/feedback", headers=auth, json=body).status_code == 202
    items = client.get("/v1/users/u1/history", headers=auth).json()["items"]
    assert [i["text"] for i in items] == ["Sorry, Friday is full. Monday?"]


def test_shown_and_dismissed_do_not_touch_history(client, services, auth):
    _served(services, _tenant_id(services))
    for event in ("shown", "dismissed", "selected"):
        r = client.post("/v1/feedback", headers=auth,
                        json={"request_id": "req-1", "index": 2, "event": event})
        assert r.status_code == 202
    assert client.get("/v1/users/u1/history", headers=auth).json()["items"] == []


def test_opened_subject_line_becomes_subject_opened(client, services, auth):
    _served(services, _tenant_id(services), task="subject_line", rid="req-s")
    r = client.post("/v1/feedback", headers=auth,
                    json={"request_id": "req-s", "index": 2, "event": "opened"})
    assert r.status_code == 202
    items = client.get("/v1/users/u1/history", headers=auth).json()["items"]
    assert [(i["kind"], i["text"]) for i in items] == [("subject_opened", "What time?")]


def test_index_out_of_range_and_edited_without_text_are_422(client, services, auth):
    _served(services, _tenant_id(services))
    r = client.post("/v1/feedback", headers=auth,
                    json={"request_id": "req-1", "index": 3, "event": "sent"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "index"
    r = client.post("/v1/feedback", headers=auth,
                    json={"request_id": "req-1", "index": 0, "event": "edited"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "final_text"
    assert client.get("/v1/users/u1/history", headers=auth).json()["items"] == []


def test_other_tenants_request_ids_are_invisible(client, services, auth):
    _served(services, _tenant_id(services, "other-co"), rid="theirs")
    r = client.post("/v1/feedback", headers=auth,
                    json={"request_id": "theirs", "index": 0, "event": "sent"})
    assert r.status_code == 404


def test_sent_after_edit_keeps_the_edited_text(client, services, auth):
    _served(services, _tenant_id(services))
    edited = {"request_id": "req-1", "index": 0, "event": "edited", "final_text": "Friday 4pm?"}
    assert client.post("/v1/feedback", headers=auth, json=edited).status_code == 202
    sent = {"request_id": "req-1", "index": 0, "event": "sent"}
    assert client.post("/v1/feedback", headers=auth, json=sent).status_code == 202
    items = client.get("/v1/users/u1/history", headers=auth).json()["items"]
    assert [i["text"] for i in items] == ["Friday 4pm?"]


def test_conflicting_final_texts_keep_the_first_and_still_accept(client, services, auth):
    _served(services, _tenant_id(services))
    first = {"request_id": "req-1", "index": 0, "event": "sent", "final_text": "Friday works."}
    second = {"request_id": "req-1", "index": 0, "event": "edited", "final_text": "Make it 4pm."}
    assert client.post("/v1/feedback", headers=auth, json=first).status_code == 202
    assert client.post("/v1/feedback", headers=auth, json=second).status_code == 202
    items = client.get("/v1/users/u1/history", headers=auth).json()["items"]
    assert [i["text"] for i in items] == ["Friday works."]
