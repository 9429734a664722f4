"""Operational endpoints: liveness, readiness, metrics.

Anonymous callers learn only whether the gateway is up and ready; the model chain and
load times need the metrics token or an admin key, and ``/metrics`` needs the token
when ``metrics_token`` is set."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from gateway.deps import (
    MetricsAuthorization,
    ServicesDep,
    is_operator,
    matches_metrics_token,
    require_metrics_access,
)
from gateway.schemas.common import ErrorBody

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="`ready`")
    models: list[str] | None = Field(
        default=None, description="Model chain (metrics token or admin key only).")
    load_seconds: dict[str, float] | None = Field(
        default=None, description="Start-up time per part (metrics token or admin key only).")


@router.get("/healthz", summary="Process is up", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", summary="Models loaded and store open (503 until then)",
            response_model=Readiness, response_model_exclude_none=True,
            responses={503: {"model": ErrorBody, "description": "Still loading, or start-up "
                                                                "failed (the message says why)"}})
def readyz(request: Request, services: ServicesDep, authorization: MetricsAuthorization):
    loader = getattr(request.app.state, "loader", None)
    if services.ready:
        if not is_operator(services, authorization):
            return Readiness(status="ready")
        return Readiness(status="ready", models=services.settings.models,
                         load_seconds={k: round(v, 2) for k, v in services.load_seconds.items()})
    rid = request.state.request_id
    if loader is not None and loader.done() and loader.exception() is not None:
        msg = "start-up failed; the log names the setting to fix, then restart"
        if matches_metrics_token(services, authorization):  # the store may not be open
            msg = f"start-up failed: {loader.exception()}; fix the setting it names and restart"
    else:
        msg = "loading models and opening the store; retry in a few seconds"
    return JSONResponse({"error": {"type": "not_ready", "message": msg, "request_id": rid}},
                        status_code=503)


@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response_class=PlainTextResponse,
            dependencies=[Depends(require_metrics_access)],
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                       401: {"model": ErrorBody,
                             "description": "metrics_token is set and was not sent"}})
def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)

