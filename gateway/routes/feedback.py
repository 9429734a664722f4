"""POST /v1/feedback: the loop back into history."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import PrincipalDep, ReadyServicesDep
from gateway.schemas.common import ErrorBody
from gateway.schemas.feedback import FeedbackAccepted, FeedbackIn
from gateway.usecases.feedback import record_feedback

router = APIRouter(tags=["feedback"])


@router.post("/feedback", status_code=202, response_model=FeedbackAccepted,
             summary="Report what the user did with a suggestion",
             responses={404: {"model": ErrorBody,
                              "description": "request_id is unknown for this tenant"}})
def post_feedback(body: FeedbackIn, principal: PrincipalDep,
                  services: ReadyServicesDep) -> FeedbackAccepted:
    return record_feedback(services=services, tenant_id=principal.tenant_id, feedback=body,
                           tenant=principal.tenant)
