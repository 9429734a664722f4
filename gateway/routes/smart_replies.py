"""``POST /v1/smart-replies``: parse, delegate to the use case (any key scope)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.deps import ArrivalDep, PrincipalDep, ReadyServicesDep
from gateway.schemas.smart_replies import SmartReplyRequest, SmartReplyResponse
from gateway.usecases.experiments.serve import serve_generation
from gateway.usecases.smart_replies import suggest_replies

router = APIRouter(tags=["smart replies"])


@router.post("/smart-replies", response_model=SmartReplyResponse,
             summary="Suggest short, distinct replies to an incoming email in the user's style")
async def smart_replies(body: SmartReplyRequest, request: Request, principal: PrincipalDep,
                        services: ReadyServicesDep, arrived: ArrivalDep) -> SmartReplyResponse:
    request_id = request.state.request_id
    return await serve_generation(
        services=services, tenant_id=principal.tenant_id, task="smart_replies",
        user_id=body.user_id, request_id=request_id, arrived=arrived,
        generate=lambda policy: suggest_replies(
            services=services, tenant_id=principal.tenant_id, request=body,
            request_id=request_id, tenant=principal.tenant,
            correlation_id=request.state.correlation_id, policy=policy, arrived=arrived))
