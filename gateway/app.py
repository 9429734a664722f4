"""The app factory: ``create_app(settings)`` builds a FastAPI app with a lifespan
that loads models once; errors of every kind map to the docs/api.md error body here."""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from gateway.core.errors import GatewayError, error_body
from gateway.core.settings import Settings
from gateway.edge import EdgeMiddleware, error_response
from gateway.services import Services, build_services, start_services

log = logging.getLogger(__name__)

_HTTP_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "request_timeout", 409: "conflict", 413: "payload_too_large",
               422: "invalid_request", 429: "rate_limited", 503: "not_ready"}


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or uuid.uuid4().hex


def _error(request: Request, status: int, type_: str, message: str, *,
           field: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(type_, message, _request_id(request), field=field),
                        status_code=status, headers=headers)


def _field_path(loc) -> str:
    # Only the leading location names where the field is; a field may itself be
    # called "body" (campaign.body, message.body).
    loc = list(loc)
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    return ".".join(str(p) for p in loc) or "body"


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path (for a 405's Allow).

    Asks the routes themselves (``matches`` with each method), since included routers
    nest and a path's methods may come from several routes."""
    allowed = []
    for method in _METHODS:
        probe = {"type": "http", "path": request.scope["path"], "method": method,
                 "root_path": request.scope.get("root_path", "")}
        if any(route.matches(dict(probe))[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _install_error_handlers(app: FastAPI) -> None:
    # Anything else a route raises is answered 500 by gateway.edge (on the same
    # connection: Starlette's own 500 handler re-raises, and the server drops it).
    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError):
        return error_response(exc, _request_id(request))

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
        headers = getattr(exc, "headers", None)
        allow = _allowed_methods(request) if exc.status_code == 405 else []
        if allow:
            # Starlette names only the first route that matched the path; list them all.
            headers = {**(headers or {}), "Allow": ", ".join(allow)}
            detail = f"method {request.method} is not allowed here; use {' or '.join(allow)}"
        else:
            detail = str(exc.detail)
        return _error(request, exc.status_code, _HTTP_TYPES.get(exc.status_code, "http_error"),
                      detail, headers=headers)


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # Request ids, auth before body, body limits and timeout, the 500 answer, metrics.
    app.add_middleware(EdgeMiddleware, settings=settings)


async def _purge_when_ready(services: Services, loader: asyncio.Task) -> None:
    """The retention purge (gateway.usecases.retention), once the store is open."""
    from gateway.usecases.retention import run_purges

    try:
        await asyncio.shield(loader)
    except Exception:  # noqa: BLE001 - start-up failures are reported by /readyz
        return
    await run_purges(services)


async def _resume_campaigns(runner, loader: asyncio.Task) -> None:
    """Campaigns with pending rows continue once the models are in (a restart's)."""
    try:
        await asyncio.shield(loader)
    except Exception:  # noqa: BLE001 - start-up failures are reported by /readyz
        return
    await runner.resume()


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """Build the app. Models load in the lifespan (in a worker thread), so
    ``/healthz`` answers at once and ``/readyz`` says 503 until they are in."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = services or build_services(settings)
        app.state.services = svc
        from gateway.usecases.replies.prompt import warm_up_messages

        loader = asyncio.create_task(asyncio.to_thread(start_services, svc,
                                                       warm_up_prompt=warm_up_messages))
        app.state.loader = loader
        purges = asyncio.create_task(_purge_when_ready(svc, loader))
        from gateway.usecases.campaigns.runners import make_runner

        app.state.campaigns = make_runner(svc)
        resumed = asyncio.create_task(_resume_campaigns(app.state.campaigns, loader))
        try:
            yield
        finally:
            purges.cancel()
            resumed.cancel()
            await app.state.campaigns.close()  # finished rows stay; the next start resumes
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
        # Off in production (docs_enabled=false): the API reference is in the repo.
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    _install_error_handlers(app)
    _install_middleware(app, settings)

    from gateway.routes import (
        campaigns,
        experiments,
        feedback,
        health,
        history,
        monitoring,
        requests,
        smart_replies,
        subject_lines,
        users,
    )

    app.include_router(health.router)
    from gateway.schemas.common import ERROR_RESPONSES

    for module in (history, users, smart_replies, subject_lines, feedback, requests,
                   monitoring, experiments, campaigns):
        app.include_router(module.router, prefix="/v1", responses=ERROR_RESPONSES)
    return app
