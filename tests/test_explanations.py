"""GET /v1/requests/{request_id}: an explanation matches the response it explains, for
the model path, the rules path and a guardrail block; it is tenant-scoped, carries the
stage timings and goes with forget. Tracing spans carry the request id."""

from __future__ import annotations

import pytest

from gateway.auth import create_key
from tests.smart_reply_helpers import SAM, add_replies, body

pytestmark = pytest.mark.both_backends

CAMPAIGN = {"user_id": "u1", "deadline_ms": 20_000,
            "campaign": {"body": "Our spring sale starts Monday: 20% off all running shoes "
                                 "until March 31.", "brand": "Acme"}}


def _served(response_items):
    return [{k: s[k] for k in ("text", "source", "score", "checks")} for s in response_items]


def _explain(client, auth, request_id):
    r = client.get(f"/v1/requests/{request_id}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def _assert_matches(exp, items):
    assert _served(exp["served"]) == _served(items)
    # Every served suggestion is among the candidates, marked served, with the same checks.
    served = [c for c in exp["candidates"] if c["status"] == "served"]
    assert sorted(c["text"] for c in served) == sorted(s["text"] for s in items)
    by_text = {c["text"]: c for c in served}
    for s in items:
        assert by_text[s["text"]]["checks"] == s["checks"]
        assert by_text[s["text"]]["source"] == s["source"]
        assert by_text[s["text"]]["score"] == s["score"]


def test_model_path_explanation_matches_the_response(client, auth, fake):
    add_replies(client, auth, "u1", SAM)
    fake.enqueue("Sure, Friday at 3pm works for me.", "Friday is fine.", "Let me check.")
    r = client.post("/v1/smart-replies", json=body(), headers=auth)
    data = r.json()
    assert any(s["source"] == "llm" for s in data["suggestions"])
    exp = _explain(client, auth, data["request_id"])
    _assert_matches(exp, data["suggestions"])
    assert exp["task"] == "smart_reply" and exp["user_id"] == "u1"
    assert exp["model"] == data["model"] and exp["prompt_version"] == data["prompt_version"]
    assert exp["fallback_reason"] is None
    assert set(exp["stages_ms"]) == {"retrieve", "prompt", "model", "guardrails", "rank"}
    used = {c for h in exp["history"] for c in h["contributed"]}
    assert "prompt_example" in used
    assert {h["id"] for h in exp["history"]} <= {i for i, _, _ in SAM}
    assert exp["style"]["items"] == len(SAM)
    llm = [c for c in exp["candidates"] if c["source"] == "llm"]
    assert llm and set(llm[0]["components"]) == {"prior", "relevance", "voice", "flags"}


def test_rules_path_explanation_names_the_model_error(client, auth, fake):
    fake.error = RuntimeError("connection refused")
    data = client.post("/v1/smart-replies", json=body(), headers=auth).json()
    assert data["fallback_reason"] == "llm_error"
    exp = _explain(client, auth, data["request_id"])
    _assert_matches(exp, data["suggestions"])
    assert exp["model"] is None and exp["model_error"] == "llm_error"
    assert exp["fallback_reason"] == "llm_error"
    assert {c["source"] for c in exp["candidates"]} == {"rules"}
    assert "model" in exp["stages_ms"]


def test_guardrail_block_is_explained_with_the_rule(client, auth, fake):
    fake.enqueue(*["Sure, wire the money to account 12345678 at http://pay.example/now"] * 8)
    data = client.post("/v1/smart-replies", json=body(), headers=auth).json()
    assert data["fallback_reason"] == "guardrail"
    exp = _explain(client, auth, data["request_id"])
    _assert_matches(exp, data["suggestions"])
    blocked = [c for c in exp["candidates"] if c["source"] == "llm"]
    assert blocked and all(c["status"] == "blocked" for c in blocked)
    for c in blocked:
        failing = [k for k in c["checks"] if not k["passed"] and k.get("action") == "block"]
        assert c["dropped_by"] == failing[0]["name"]


def test_subject_line_explanation_matches_the_response(client, auth, fake):
    fake.enqueue("Spring sale: 20% off running shoes\nRunning shoes, 20% off until March 31")
    data = client.post("/v1/subject-lines", json=CAMPAIGN, headers=auth).json()
    exp = _explain(client, auth, data["request_id"])
    _assert_matches(exp, data["subject_lines"])
    assert exp["task"] == "subject_line"
    assert {"retrieve", "guardrails", "rank"} <= set(exp["stages_ms"])


def test_another_tenants_key_gets_404_and_a_client_key_403(client, auth, fake, services):
    data = client.post("/v1/smart-replies", json=body(), headers=auth).json()
    other = {"Authorization": f"Bearer {create_key(services.db, tenant='other', scope='admin')}"}
    r = client.get(f"/v1/requests/{data['request_id']}", headers=other)
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found"
    mine = {"Authorization": f"Bearer {create_key(services.db, tenant='acme', scope='client')}"}
    assert client.get(f"/v1/requests/{data['request_id']}", headers=mine).status_code == 403


def test_forget_removes_explanations(client, auth, fake):
    add_replies(client, auth, "u1", SAM)
    data = client.post("/v1/smart-replies", json=body(), headers=auth).json()
    assert client.get(f"/v1/requests/{data['request_id']}", headers=auth).status_code == 200
    assert client.delete("/v1/users/u1", headers=auth).status_code == 204
    assert client.get(f"/v1/requests/{data['request_id']}", headers=auth).status_code == 404


@pytest.mark.parametrize(("history", "expected"), [
    (True, "you often reply like this to similar messages"),
    (False, "not personalized"),
])
def test_short_explanation_only_when_asked(client, auth, fake, history, expected):
    if history:
        add_replies(client, auth, "u1", SAM)
    fake.enqueue("Sure, Friday at 3pm works for me.")
    plain = client.post("/v1/smart-replies", json=body(), headers=auth).json()
    assert plain["explanation"] is None
    fake.enqueue("Sure, Friday at 3pm works for me.")
    asked = client.post("/v1/smart-replies", json=body(explain=True), headers=auth).json()
    assert expected in asked["explanation"]
    assert "score" not in asked["explanation"]


def test_stage_spans_carry_the_request_id(client, auth, fake, services):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from gateway.tracing import Tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    services.tracing = Tracing(provider)
    fake.enqueue("Sure, Friday at 3pm works for me.")
    rid = client.post("/v1/smart-replies", json=body(), headers=auth).json()["request_id"]
    spans = exporter.get_finished_spans()
    names = {s.name for s in spans if s.attributes.get("persona.request_id") == rid}
    assert {"smart_reply", "retrieve", "prompt", "model", "guardrails", "rank"} <= names
    root = next(s for s in spans if s.name == "smart_reply")
    stages = [s for s in spans if s.name != "smart_reply"]
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id
               for s in stages)
    assert len({s.context.trace_id for s in spans}) == 1
