"""``GET /v1/requests/{request_id}``: what was served and why (admin key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gateway.deps import AdminDep, ServicesDep
from gateway.schemas.common import ErrorBody
from gateway.schemas.operations import ExplanationOut
from gateway.usecases.explain import load_explanation

router = APIRouter(tags=["operations"])


@router.get("/requests/{request_id}", response_model=ExplanationOut,
            summary="Explain a served request: history used, candidates, checks, timings "
                    "(admin key)",
            responses={404: {"model": ErrorBody,
                             "description": "no such request for this tenant (or expired)"}})
def get_request(request_id: Annotated[str, Path(min_length=1, max_length=64)],
                principal: AdminDep, services: ServicesDep) -> ExplanationOut:
    return ExplanationOut(**load_explanation(services, tenant_id=principal.tenant_id,
                                             request_id=request_id))
