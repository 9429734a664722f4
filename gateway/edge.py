"""The gateway's edge: one pure ASGI middleware between the server and the app.

Per HTTP request, in this order, before any body byte is read:
  1. the gateway's own request id (a safe ``X-Request-ID`` from the caller is kept only
     as a correlation id and echoed) and the model timer;
  2. on ``/v1/*``: a client address out of failed-authentication tokens gets 429,
     then the key is looked up from the header; a failure is counted against the
     address, and a body-carrying request (POST/PUT/PATCH) is answered 401 at once;
     a known tenant over its rate limit gets 429 (cheap: no body, no validation);
  3. a declared ``Content-Length`` over ``max_body_bytes`` gets 413;
then the body is read as it streams, stopping at ``max_body_bytes`` (413) or after
``body_read_timeout_s`` (408), and handed to the app. Whatever the app raises is
answered with the docs/api.md 500 body on the same keep-alive connection. Every response
carries ``X-Request-ID`` and ``X-Gateway-Overhead-Ms`` and is counted in the metrics.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import anyio
import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import authenticate
from gateway.core.errors import (
    GatewayError,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
    error_body,
)
from gateway.core.settings import Settings
from gateway.llm.deadline import LLMTimer, llm_timer

log = logging.getLogger(__name__)

_BODY_METHODS = ("POST", "PUT", "PATCH")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
INTERNAL_ERROR = "internal error; this is a bug, please report it with the request_id"


def correlation_id_from(headers: Headers) -> str | None:
    """The caller's ``X-Request-ID`` if it is 1-64 ASCII letters, digits, '-' or '_', else
    None. Never the key of anything: only echoed, logged and stored for tracing; records
    are keyed by the gateway's own request id (README "Request ids")."""
    cid = headers.get("x-request-id", "")
    return cid if _REQUEST_ID.fullmatch(cid) else None


def error_response(exc: GatewayError, request_id: str) -> JSONResponse:
    return JSONResponse(error_body(exc.type, exc.message, request_id, field=exc.field),
                        status_code=exc.status_code, headers=exc.headers or None)


class _ClientGone(Exception):
    """The client disconnected before its body arrived: nobody to answer."""


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._templates: list[tuple[re.Pattern, str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        state["arrived"] = started  # deadlines count from here (gateway.deps.ArrivalDep)
        rid = state["request_id"] = uuid.uuid4().hex
        cid = state["correlation_id"] = correlation_id_from(headers)
        timer = LLMTimer()
        token = llm_timer.set(timer)
        sent = {"status": 0, "complete": False, "close": False}

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                h = MutableHeaders(scope=message)
                h["X-Request-ID"] = cid or rid
                overhead = max(time.monotonic() - started - timer.seconds, 0.0)
                h["X-Gateway-Overhead-Ms"] = f"{overhead * 1000:.1f}"
                if sent["close"]:
                    h["Connection"] = "close"
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                sent["complete"] = True
            await send(message)

        try:
            try:
                receive = await self._admit(scope, headers, state, receive)
            except GatewayError as exc:
                # Answered before the body was read: don't leave it for the next request.
                sent["close"] = _has_body(headers)
                await error_response(exc, rid)(scope, receive, send_with_context)
                return
            except _ClientGone:
                return
            await self.app(scope, receive, send_with_context)
        except Exception:
            log.exception("unhandled error on %s %s request_id=%s correlation_id=%s",
                          scope["method"], scope["path"], rid, cid or "-")
            if sent["status"] and not sent["complete"]:
                raise  # half a response is out: only closing the connection tells the client
            if not sent["status"]:
                await JSONResponse(error_body("internal_error", INTERNAL_ERROR, rid),
                                   status_code=500)(scope, receive, send_with_context)
        finally:
            llm_timer.reset(token)
            if sent["status"]:
                self._count(scope, state, sent["status"], time.monotonic() - started)

    async def _admit(self, scope: Scope, headers: Headers, state: dict,
                     receive: Receive) -> Receive:
        """Checks that need no body; returns the receive the app should read from."""
        services = getattr(scope["app"].state, "services", None)
        if services is not None and scope["path"].startswith("/v1/"):
            address = (scope.get("client") or ("-",))[0]
            services.auth_failures.check(address)
            try:
                principal = await anyio.to_thread.run_sync(
                    authenticate, services.db, headers.get("authorization"))
            except Unauthorized as exc:
                services.auth_failures.hit(address)
                if scope["method"] in _BODY_METHODS:
                    raise
                state["auth_error"] = exc  # routes that need a key raise it; 404s stay 404
            else:
                state["principal"] = principal
                state["tenant"] = principal.tenant
                services.rate_limiter.hit(principal.tenant_id)
        limit = self.settings.max_body_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise _too_large(limit)
        if not _has_body(headers):
            return receive
        return await self._read_body(receive, limit)

    async def _read_body(self, receive: Receive, limit: int) -> Receive:
        """Read the body as it streams, at most ``limit`` bytes, within the timeout."""
        chunks: list[bytes] = []
        size = 0
        timeout = self.settings.body_read_timeout_s
        with anyio.move_on_after(timeout) as scope:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if scope.cancelled_caught:
            raise RequestTimeout(
                f"the request body did not arrive within {timeout:g}s; send it at once "
                "(or raise PERSONA_BODY_READ_TIMEOUT_S)", field="body")
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # what comes next: a disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    def _count(self, scope: Scope, state: dict, status: int, seconds: float) -> None:
        services = getattr(scope["app"].state, "services", None)
        if services is None:
            return
        path = getattr(scope.get("route"), "path", None) or self._template(scope)
        services.metrics.requests.labels(tenant=state.get("tenant", "-"), route=path,
                                         status=str(status)).inc()
        services.metrics.latency.labels(route=path).observe(seconds)


    def _template(self, scope: Scope) -> str:
        """The route label of a request answered before routing reached a route."""
        if self._templates is None:
            self._templates = _route_templates(scope["app"])
        path = scope["path"]
        return next((t for regex, t in self._templates if regex.match(path)), "unmatched")


def _has_body(headers: Headers) -> bool:
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit} bytes; "
                           "send fewer items per request", field="body")


def _route_templates(app) -> list[tuple[re.Pattern, str]]:
    """The app's path templates (from its OpenAPI paths: a public, cached view)."""
    return [(compile_path(path)[0], path) for path in app.openapi().get("paths", {})]
