"""The app factory: ``create_app(settings)`` builds a FastAPI app with a lifespan
that loads models once; errors of every kind map to the API.md error body here."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.errors import GatewayError, PayloadTooLarge
from gateway.llm.deadline import LLMTimer, llm_timer
from gateway.services import Services, build_services, start_services
from gateway.settings import Settings

log = logging.getLogger(__name__)

_HTTP_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               422: "invalid_request", 429: "rate_limited", 503: "not_ready"}


def _error(request: Request, status: int, type_: str, message: str, *,
           field: str | None = None, headers: dict | None = None) -> JSONResponse:
    rid = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    body = {"error": {"type": type_, "message": message, "request_id": rid}}
    if field:
        body["error"]["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc) -> str:
    # Only the leading location names where the field is; a field may itself be
    # called "body" (campaign.body, message.body).
    loc = list(loc)
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    return ".".join(str(p) for p in loc) or "body"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError):
        return _error(request, exc.status_code, exc.type, exc.message,
                      field=exc.field, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
        field = _field_path(first.get("loc", ()))
        msg = first.get("msg", "invalid value")
        if first.get("type") == "extra_forbidden":
            msg = "unknown field; remove it (see /docs for the accepted fields)"
        elif first.get("type") == "missing":
            msg = "field required"
        more = f" (and {len(errs) - 1} more problems)" if len(errs) > 1 else ""
        return _error(request, 422, "invalid_request", f"{field}: {msg}{more}", field=field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return _error(request, exc.status_code, _HTTP_TYPES.get(exc.status_code, "http_error"),
                      str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal_error",
                      "internal error; this is a bug, please report it with the request_id")


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def _request_context(request: Request, call_next):
        started = request.state.arrived = time.monotonic()
        rid = request.headers.get("x-request-id", "")
        if not rid or len(rid) > 64 or not rid.replace("-", "").replace("_", "").isalnum():
            rid = uuid.uuid4().hex
        request.state.request_id = rid
        timer = LLMTimer()
        token = llm_timer.set(timer)
        try:
            length = request.headers.get("content-length")
            too_big = (length is not None and length.isdigit()
                       and int(length) > settings.max_body_bytes)
            if not too_big and request.method in ("POST", "PUT", "PATCH") and length is None:
                too_big = len(await request.body()) > settings.max_body_bytes
            if too_big:
                exc = PayloadTooLarge(
                    f"request body is larger than {settings.max_body_bytes} bytes; "
                    "send fewer items per request", field="body")
                response = _error(request, 413, exc.type, exc.message, field="body")
            else:
                response = await call_next(request)
        finally:
            llm_timer.reset(token)
        total = time.monotonic() - started
        response.headers["X-Request-ID"] = rid
        response.headers["X-Gateway-Overhead-Ms"] = f"{max(total - timer.seconds, 0) * 1000:.1f}"
        services: Services | None = getattr(app.state, "services", None)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        if services is not None:
            tenant = getattr(request.state, "tenant", "-")
            services.metrics.requests.labels(tenant=tenant, route=path,
                                             status=str(response.status_code)).inc()
            services.metrics.latency.labels(route=path).observe(total)
        return response


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """Build the app. Models load in the lifespan (in a worker thread), so
    ``/healthz`` answers at once and ``/readyz`` says 503 until they are in."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = services or build_services(settings)
        app.state.services = svc
        loader = asyncio.create_task(asyncio.to_thread(start_services, svc))
        app.state.loader = loader
        try:
            yield
        finally:
            if not loader.done():
                try:
                    await loader
                except Exception:
                    log.warning("start-up did not finish before shutdown", exc_info=True)
            svc.close()

    app = FastAPI(
        title="Persona Gateway",
        version="1.0.0",
        summary="Personalized smart replies and subject lines from each user's history.",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    _install_middleware(app, settings)

    from gateway.routes import feedback, health, history, smart_replies, subject_lines, users

    app.include_router(health.router)
    from gateway.schemas.common import ERROR_RESPONSES

    for module in (history, users, smart_replies, subject_lines, feedback):
        app.include_router(module.router, prefix="/v1", responses=ERROR_RESPONSES)
    return app
