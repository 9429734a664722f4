"""Request ids are the gateway's own and records are keyed per tenant (issue #12 item 1).

A client's ``X-Request-ID`` is only a correlation id: echoed in the response header,
stored for tracing, never the key of a generation or of feedback.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gateway.auth import create_key, get_or_create_tenant
from gateway.tables import Feedback, Generation
from gateway.usecases.common import record_generation
from tests.smart_reply_helpers import body

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def auth_b(services) -> dict:
    return {"Authorization": f"Bearer {create_key(services.db, tenant='other-co', scope='admin')}"}


def generate(client, auth, *, correlation: str | None = None, message: str | None = None):
    headers = dict(auth)
    if correlation is not None:
        headers["X-Request-ID"] = correlation
    payload = body()
    if message:
        payload["message"]["body"] = message
    r = client.post("/v1/smart-replies", json=payload, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["suggestions"], r.text
    return r


def feedback(client, auth, rid: str):
    return client.post("/v1/feedback", headers=auth,
                       json={"request_id": rid, "index": 0, "event": "shown"})


def generation(services, tenant: str, rid: str) -> Generation | None:
    """The stored record, its user's texts opened (they are stored sealed)."""
    tid = get_or_create_tenant(services.db, tenant)
    with services.db.session() as s:
        g = s.scalar(select(Generation).where(Generation.tenant_id == tid,
                                              Generation.request_id == rid))
    if g is not None and g.user_id:
        g.input_text = services.keys.open_text(tid, g.user_id, g.input_text)
        g.outputs = services.keys.open_json(tid, g.user_id, g.outputs)
    return g


def test_the_body_request_id_is_the_gateways_and_the_header_echoes_the_client(client, auth):
    r = generate(client, auth, correlation="client-trace-1")
    assert HEX32.match(r.json()["request_id"])
    assert r.headers["X-Request-ID"] == "client-trace-1"
    plain = generate(client, auth)
    assert plain.headers["X-Request-ID"] == plain.json()["request_id"]
    assert plain.json()["request_id"] != r.json()["request_id"]


def test_errors_carry_the_same_ids_as_successes(client, auth):
    r = feedback(client, {**auth, "X-Request-ID": "client-trace-2"}, "never-served")
    assert r.status_code == 404
    assert HEX32.match(r.json()["error"]["request_id"])
    assert r.headers["X-Request-ID"] == "client-trace-2"


def test_another_tenant_cannot_take_over_a_request_id(client, services, auth, auth_b):
    rid_a = generate(client, auth, message="Can we move Thursday's meeting to Friday?").json()[
        "request_id"]
    before = generation(services, "acme", rid_a)

    # Tenant B names A's request id as its X-Request-ID.
    r = generate(client, auth_b, correlation=rid_a, message="Are you coming to the offsite?")
    assert r.headers["X-Request-ID"] == rid_a
    assert r.json()["request_id"] != rid_a

    after = generation(services, "acme", rid_a)
    assert after is not None
    assert (after.input_text, after.outputs, after.user_id) == (
        before.input_text, before.outputs, before.user_id)
    assert feedback(client, auth, rid_a).status_code == 202
    r = feedback(client, auth_b, rid_a)
    assert r.status_code == 404 and r.json()["error"]["field"] == "request_id"


def test_two_tenants_identical_correlation_ids_coexist(client, services, auth, auth_b):
    rid_a = generate(client, auth, correlation="order-42").json()["request_id"]
    rid_b = generate(client, auth_b, correlation="order-42").json()["request_id"]
    assert rid_a != rid_b
    assert generation(services, "acme", rid_a).correlation_id == "order-42"
    assert generation(services, "other-co", rid_b).correlation_id == "order-42"
    assert feedback(client, auth, rid_a).status_code == 202
    assert feedback(client, auth_b, rid_b).status_code == 202
    assert feedback(client, auth, rid_b).status_code == 404


def test_the_same_request_id_in_two_tenants_keeps_both_records_and_feedback(
        client, services, auth, auth_b):
    # Ids from another source (evals, an old data dir) may repeat across tenants.
    for tenant, text in (("acme", "ours"), ("other-co", "theirs")):
        record_generation(services, request_id="req-1",
                          tenant_id=get_or_create_tenant(services.db, tenant), user_id="u1",
                          task="smart_reply", input_text=text, outputs=[f"{text} reply"],
                          model=None, prompt_version=None)
    assert feedback(client, auth, "req-1").status_code == 202
    assert feedback(client, auth_b, "req-1").status_code == 202
    assert generation(services, "acme", "req-1").outputs == ["ours reply"]
    assert generation(services, "other-co", "req-1").outputs == ["theirs reply"]
    with services.db.session() as s:
        tenants = s.scalars(select(Feedback.tenant_id).where(Feedback.request_id == "req-1")).all()
    assert len(set(tenants)) == 2
