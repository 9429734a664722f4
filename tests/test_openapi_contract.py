"""The generated OpenAPI document matches docs/api.md, the API reference (paths, methods, fields)."""

import pytest

EXPECTED = {
    ("/v1/users/{user_id}/history", "post"),
    ("/v1/users/{user_id}/history", "get"),
    ("/v1/users/{user_id}", "delete"),
    ("/v1/users/{user_id}/preferences", "put"),
    ("/v1/smart-replies", "post"),
    ("/v1/subject-lines", "post"),
    ("/v1/feedback", "post"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
}


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").json()


def _schema(spec, ref_or_schema):
    if "$ref" in ref_or_schema:
        return spec["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[1]]
    return ref_or_schema


def _body_fields(spec, path, method="post"):
    op = spec["paths"][path][method]
    schema = _schema(spec, op["requestBody"]["content"]["application/json"]["schema"])
    return set(schema["properties"]), schema


def _response_fields(spec, path, method="post"):
    op = spec["paths"][path][method]
    ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
    return set(_schema(spec, ok["content"]["application/json"]["schema"])["properties"])


def test_every_contract_path_exists(spec, client):
    have = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert EXPECTED <= have, EXPECTED - have
    assert client.get("/docs").status_code == 200


def test_request_fields(spec):
    fields, schema = _body_fields(spec, "/v1/smart-replies")
    assert {"user_id", "message", "thread", "n", "max_chars", "deadline_ms"} <= fields
    assert schema.get("additionalProperties") is False
    msg = _schema(spec, spec["components"]["schemas"]["IncomingMessage"])
    assert {"from", "subject", "body"} <= set(msg["properties"])
    fields, _ = _body_fields(spec, "/v1/subject-lines")
    assert {"user_id", "campaign", "n", "max_chars", "emoji", "banned_words",
            "deadline_ms"} <= fields
    fields, _ = _body_fields(spec, "/v1/feedback")
    assert fields == {"request_id", "index", "event", "final_text"}
    fields, _ = _body_fields(spec, "/v1/users/{user_id}/preferences", "put")
    assert fields == {"personalization", "locale", "signature"}


def test_response_fields(spec):
    assert {"request_id", "triggered", "suggestions", "personalized", "context_ids", "model",
            "fallback_reason", "latency_ms"} <= _response_fields(spec, "/v1/smart-replies")
    assert {"request_id", "subject_lines", "personalized", "context_ids", "model",
            "fallback_reason", "latency_ms"} <= _response_fields(spec, "/v1/subject-lines")
    assert {"accepted", "ids"} <= _response_fields(spec, "/v1/users/{user_id}/history")
    assert {"items", "next_cursor"} <= _response_fields(spec, "/v1/users/{user_id}/history", "get")
    sugg = spec["components"]["schemas"]["Suggestion"]
    assert {"text", "source", "score", "checks"} <= set(sugg["properties"])


def test_v1_routes_declare_the_bearer_key(spec):
    assert "BearerKey" in spec["components"]["securitySchemes"]
    for path, ops in spec["paths"].items():
        if path.startswith("/v1"):
            for op in ops.values():
                assert {"BearerKey": []} in op.get("security", []), path
