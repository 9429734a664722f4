"""``GET /v1/monitoring``: drift per task for the calling tenant (admin key)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import AdminDep, ServicesDep
from gateway.schemas.operations import MonitoringOut

router = APIRouter(tags=["operations"])


@router.get("/monitoring", response_model=MonitoringOut,
            summary="Drift of inputs and outputs per task, latest window against the one "
                    "before (admin key)")
def get_monitoring(principal: AdminDep, services: ServicesDep) -> MonitoringOut:
    return MonitoringOut(tenant=principal.tenant, tasks=services.drift.report(principal.tenant))
