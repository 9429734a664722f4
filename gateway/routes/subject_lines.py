"""``POST /v1/subject-lines``: parse, delegate to the use case, return its answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.deps import ArrivalDep, PrincipalDep, ReadyServicesDep
from gateway.schemas.subject_lines import SubjectLineRequest, SubjectLineResponse
from gateway.usecases.experiments.serve import serve_generation
from gateway.usecases.subject_lines import suggest_subject_lines

router = APIRouter(tags=["subject lines"])


@router.post("/subject-lines", response_model=SubjectLineResponse)
async def subject_lines(body: SubjectLineRequest, request: Request, principal: PrincipalDep,
                        services: ReadyServicesDep, arrived: ArrivalDep) -> SubjectLineResponse:
    """Subject-line variants for a campaign, tuned to what the recipient opened before.
    Every claim is grounded in the campaign body; the answer arrives within the deadline."""
    request_id = request.state.request_id
    return await serve_generation(
        services=services, tenant_id=principal.tenant_id, task="subject_lines",
        user_id=body.user_id, request_id=request_id, arrived=arrived,
        generate=lambda policy: suggest_subject_lines(
            services=services, tenant_id=principal.tenant_id, request=body,
            request_id=request_id, tenant=principal.tenant,
            correlation_id=request.state.correlation_id, policy=policy, arrived=arrived))
