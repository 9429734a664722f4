"""Operational endpoints: liveness, readiness, metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Process is up")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Models loaded and store open (503 until then)")
def readyz(request: Request):
    services = request.app.state.services
    loader = getattr(request.app.state, "loader", None)
    if services.ready:
        return {"status": "ready", "models": services.settings.models,
                "load_seconds": {k: round(v, 2) for k, v in services.load_seconds.items()}}
    rid = request.state.request_id
    if loader is not None and loader.done() and loader.exception() is not None:
        msg = f"start-up failed: {loader.exception()}; fix the setting it names and restart"
    else:
        msg = "loading models and opening the store; retry in a few seconds"
    return JSONResponse({"error": {"type": "not_ready", "message": msg, "request_id": rid}},
                        status_code=503)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    return Response(request.app.state.services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
