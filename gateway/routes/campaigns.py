"""Campaigns: subject lines for every recipient of an audience, as a job. Parse and
delegate (the rows run on the app's campaign runner: this process or the job queue)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from gateway.deps import PrincipalDep, ReadyServicesDep
from gateway.schemas.campaigns import CampaignIn, CampaignOut, CampaignRowsOut
from gateway.schemas.common import ErrorBody
from gateway.usecases.campaigns import jobs
from gateway.usecases.campaigns.runners import LocalRunner, QueueRunner

router = APIRouter(tags=["campaigns"])
_404 = {404: {"model": ErrorBody, "description": "No campaign with that id for this tenant"}}
CampaignId = Path(pattern=r"^cmp_[0-9a-f]{24}$", description="The id POST /v1/campaigns returned.")


def get_runner(request: Request) -> LocalRunner | QueueRunner:
    return request.app.state.campaigns


RunnerDep = Annotated[LocalRunner | QueueRunner, Depends(get_runner)]


@router.post("/campaigns", status_code=202, response_model=CampaignOut,
             summary="Start a campaign: subject lines for every recipient, as a job")
async def create(body: CampaignIn, principal: PrincipalDep, services: ReadyServicesDep,
                 runner: RunnerDep) -> CampaignOut:
    got = await asyncio.to_thread(jobs.create_campaign, services=services,
                                  tenant_id=principal.tenant_id, spec=body, runner=runner.kind)
    await runner.submit(got.id)
    return got


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, responses=_404,
            summary="A campaign's progress: total, done, failed, pending, state")
def progress(principal: PrincipalDep, services: ReadyServicesDep,
             campaign_id: str = CampaignId) -> CampaignOut:
    return jobs.get_campaign(services=services, tenant_id=principal.tenant_id,
                             campaign_id=campaign_id)


@router.get("/campaigns/{campaign_id}/results", response_model=CampaignRowsOut, responses=_404,
            summary="Per-recipient results in audience order, a page at a time")
def results(principal: PrincipalDep, services: ReadyServicesDep,
            campaign_id: str = CampaignId,
            cursor: int | None = Query(default=None, ge=-1, le=2**31, description=(
                "next_cursor of the previous page; omit for the first page.")),
            limit: int = Query(default=100, ge=1, le=1000)) -> CampaignRowsOut:
    return jobs.campaign_rows(services=services, tenant_id=principal.tenant_id,
                              campaign_id=campaign_id, cursor=cursor, limit=limit)
