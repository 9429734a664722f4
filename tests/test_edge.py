"""The edge middleware: auth before body, streamed body limits, stalled bodies,
failed-auth rate limits, the 500 answer, request ids (issue #12 items 2, 5, 7, 8, 11a)."""

from __future__ import annotations

import json
import logging
import threading
import time

import anyio
import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from gateway.app import create_app
from gateway.auth import create_key
from gateway.cli import server_options
from gateway.core.settings import Settings
from tests.conftest import wait_ready

LIMIT = 2048


def _boom_router() -> APIRouter:
    """Test-only routes: one that raises, one that says which connection it came on."""
    router = APIRouter()

    @router.get("/boom")
    def boom():
        raise RuntimeError("boom")

    @router.post("/v1/boom")
    def boom_v1():
        raise RuntimeError("boom")

    @router.get("/whoami")
    def whoami(request: Request) -> dict:
        return {"port": request.client.port}

    return router


def _settings(tmp_path, **overrides) -> Settings:
    base = {"data_dir": tmp_path / "data", "models": ["fake/test"], "embedding_model": "hash",
            "load_models": False, "rate_limit_per_minute": 0, "max_body_bytes": LIMIT,
            "body_read_timeout_s": 0.3}
    return Settings(**{**base, **overrides})


@pytest.fixture
def edge(tmp_path, fake):
    app = create_app(_settings(tmp_path))
    app.include_router(_boom_router())
    with TestClient(app) as c:
        wait_ready(c)
        yield c


def _key(client, tenant="acme") -> dict:
    key = create_key(client.app.state.services.db, tenant=tenant, scope="admin")
    return {"Authorization": f"Bearer {key}"}


class Endless:
    """A chunked body that never ends; counts the bytes the server pulled."""

    def __init__(self, chunk: int = 512):
        self.chunk = chunk
        self.pulled = 0

    async def __call__(self):
        self.pulled += self.chunk
        return {"type": "http.request", "body": b"x" * self.chunk, "more_body": True}


async def _stalled():
    await anyio.sleep_forever()


def asgi(client, method, path, *, headers=None, receive=None, address="10.0.0.1"):
    """Call the app directly (in the TestClient's loop) with a hand-made receive."""
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": raw,
             "client": (address, 40000), "server": ("test", 80), "state": {}}
    sent = []

    async def send(message):
        sent.append(message)

    async def empty():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def run():
        await client.app(scope, receive or empty, send)

    client.portal.call(run)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], Headers(raw=start["headers"]), json.loads(body)


def _requests_total(client, **labels) -> float:
    value = client.app.state.services.metrics.registry.get_sample_value(
        "persona_http_requests_total", labels)
    return value or 0.0


# --- item 2: no body is read before the key is checked, and never past the limit

def test_chunked_body_without_key_is_401_before_any_byte_is_read(edge):
    body = Endless()
    status, headers, err = asgi(edge, "POST", "/v1/feedback",
                                headers={"Transfer-Encoding": "chunked"}, receive=body)
    assert status == 401 and err["error"]["type"] == "unauthorized"
    assert body.pulled == 0
    assert headers["connection"] == "close"  # the unread body is not left for a next request


def test_chunked_body_over_the_limit_is_413_without_buffering_past_it(edge):
    body = Endless(chunk=512)
    status, _, err = asgi(edge, "POST", "/v1/feedback",
                          headers={**_key(edge), "Transfer-Encoding": "chunked"}, receive=body)
    assert status == 413
    assert err["error"]["type"] == "payload_too_large" and err["error"]["field"] == "body"
    assert LIMIT < body.pulled <= LIMIT + 512


def test_declared_length_over_the_limit_is_413_before_reading(edge):
    body = Endless()
    status, _, err = asgi(edge, "POST", "/v1/feedback", receive=body,
                          headers={**_key(edge), "Content-Length": str(LIMIT + 1)})
    assert (status, err["error"]["field"], body.pulled) == (413, "body", 0)


def test_streamed_body_within_the_limit_reaches_the_route(edge):
    chunks = [b'{"request_id": "r1", ', b'"index": 0, "event": "shown"}']

    async def receive():
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    status, _, err = asgi(edge, "POST", "/v1/feedback", receive=receive,
                          headers={**_key(edge), "Transfer-Encoding": "chunked",
                                   "Content-Type": "application/json"})
    assert status == 404 and err["error"]["field"] == "request_id"  # parsed, looked up


# --- item 8: a body that stops arriving

def test_stalled_body_is_408(edge):
    status, headers, err = asgi(edge, "POST", "/v1/feedback", receive=_stalled,
                                headers={**_key(edge), "Content-Length": "100"})
    assert status == 408 and err["error"]["type"] == "request_timeout"
    assert headers["connection"] == "close"
    assert _requests_total(edge, tenant="acme", route="/v1/feedback", status="408") == 1


def test_server_options_bound_connections_and_ignore_forwarded_for(tmp_path):
    opts = server_options(_settings(tmp_path, keep_alive_timeout_s=3, max_connections=50,
                                    max_header_bytes=8192))
    assert opts["timeout_keep_alive"] == 3 and opts["limit_concurrency"] == 50
    assert opts["h11_max_incomplete_event_size"] == 8192 and opts["http"] == "h11"
    assert opts["proxy_headers"] is False
    behind = server_options(_settings(tmp_path, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]))
    assert behind["proxy_headers"] is True
    assert behind["forwarded_allow_ips"] == "127.0.0.1,10.0.0.0/8"


def test_trusted_proxies_must_be_addresses(tmp_path):
    with pytest.raises(ValueError, match="not an IP address"):
        _settings(tmp_path, trusted_proxies=["proxy.local"])


# --- item 7: failed authentications are rate limited per address; tenants are isolated

def test_failed_authentications_are_limited_per_address(tmp_path, fake):
    app = create_app(_settings(tmp_path, auth_failures_per_minute=3))
    with TestClient(app) as c:
        wait_ready(c)
        bad = {"Authorization": "Bearer pk_guess"}
        codes = [c.post("/v1/feedback", headers=bad, json={}).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        r = c.post("/v1/feedback", headers={**bad, "X-Forwarded-For": "203.0.113.9"}, json={})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # XFF not trusted
        assert "PERSONA_AUTH_FAILURES_PER_MINUTE" in r.json()["error"]["message"]
        status, _, _ = asgi(c, "POST", "/v1/feedback", headers=bad, address="10.9.9.9")
        assert status == 401  # another address has its own bucket


def test_a_tenant_over_its_limit_is_refused_before_its_body(tmp_path, fake):
    app = create_app(_settings(tmp_path, rate_limit_per_minute=1))
    with TestClient(app) as c:
        wait_ready(c)
        noisy, quiet = _key(c, "noisy"), _key(c, "quiet")
        assert c.post("/v1/feedback", headers=noisy, json={}).status_code == 422
        body = Endless()
        status, headers, err = asgi(c, "POST", "/v1/feedback", receive=body,
                                    headers={**noisy, "Transfer-Encoding": "chunked"})
        assert (status, err["error"]["type"], body.pulled) == (429, "rate_limited", 0)
        assert int(headers["retry-after"]) >= 1
        assert c.post("/v1/feedback", headers=quiet, json={}).status_code == 422


# --- item 5: an unexpected exception still gets the documented answer

def test_unhandled_error_is_500_with_body_headers_metric_and_log(edge, caplog):
    caplog.set_level(logging.ERROR, logger="gateway.edge")
    r = edge.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500
    rid = r.json()["error"]["request_id"]
    assert r.json() == {"error": {"type": "internal_error", "request_id": rid,
                                  "message": r.json()["error"]["message"]}}
    assert len(rid) == 32 and rid != "trace-500"  # the gateway's own id; the client's correlates
    assert "request_id" in r.json()["error"]["message"]
    assert r.headers["X-Request-ID"] == "trace-500"
    assert float(r.headers["X-Gateway-Overhead-Ms"]) >= 0
    assert _requests_total(edge, tenant="-", route="/boom", status="500") == 1
    assert any(rid in rec.getMessage() and "trace-500" in rec.getMessage() and rec.exc_info
               for rec in caplog.records)
    r = edge.post("/v1/boom", headers=_key(edge), json={})
    assert r.status_code == 500
    assert _requests_total(edge, tenant="acme", route="/v1/boom", status="500") == 1


def test_unhandled_error_keeps_the_connection_alive(tmp_path, fake):
    uvicorn = pytest.importorskip("uvicorn")
    app = create_app(_settings(tmp_path))
    app.include_router(_boom_router())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical",
                                           http="h11"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            first = c.get("/whoami").json()["port"]
            assert c.get("/boom").status_code == 500
            assert c.get("/whoami").json()["port"] == first
    finally:
        server.should_exit = True
        thread.join(10)


# --- item 11a: request ids are ASCII only

@pytest.mark.parametrize("rid", ["abcé", "Ãª", "x" * 65, "a b", "a.b", ""])
def test_unsafe_request_ids_are_replaced(edge, rid):
    # header bytes as the server hands them over (latin-1): "Ãª" is a UTF-8 "ê"
    _, headers, _ = asgi(edge, "GET", "/healthz", headers={"X-Request-ID": rid})
    assert headers["x-request-id"] != rid and len(headers["x-request-id"]) == 32


def test_safe_request_id_is_kept(edge):
    rid = "Trace_09-" + "z" * 55
    assert edge.get("/healthz", headers={"X-Request-ID": rid}).headers["X-Request-ID"] == rid
