"""Create a campaign job, read its progress and its per-recipient results.

A campaign is made with one row per recipient: ``pending``, or ``failed`` at once when
the id is invalid or repeats an earlier row (reported on that row, never failing the
job). Progress is counted from the rows, so it is right whoever finished them.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, insert, select

from embeddings.items import USER_ID_PATTERN
from gateway.core.db import utcnow
from gateway.core.errors import BadInput, NotFound
from gateway.schemas.campaigns import CampaignIn, CampaignOut, CampaignRowOut, CampaignRowsOut
from gateway.services import Services
from gateway.tables import CampaignJob, CampaignRow, Experiment
from gateway.usecases.subject_lines import check_bounds

TASK = "subject_lines"
_USER_ID = re.compile(USER_ID_PATTERN)
_INVALID = ("invalid user id: use 1-128 letters, digits or . _ @ + - (starting with a "
            "letter or digit)")


def _experiment(s, tenant_id: int, name: str) -> Experiment:
    exp = s.scalar(select(Experiment).where(Experiment.tenant_id == tenant_id,
                                            Experiment.name == name))
    if exp is None:
        raise BadInput(f"experiment: no experiment named {name!r} for this tenant; list them "
                       "with GET /v1/experiments", field="experiment")
    if exp.task != TASK:
        raise BadInput(f"experiment: {name!r} runs on {exp.task}; a campaign splits by a "
                       "subject_lines experiment", field="experiment")
    if exp.status != "running":
        raise BadInput(f"experiment: {name!r} is stopped; start it first "
                       f"(POST /v1/experiments/{name}/start)", field="experiment")
    return exp


def _rows(campaign_id: str, tenant_id: int, audience: list[str]) -> list[dict]:
    first: dict[str, int] = {}
    rows = []
    for i, user_id in enumerate(audience):
        row = {"campaign_id": campaign_id, "position": i, "tenant_id": tenant_id,
               "user_id": user_id, "status": "pending", "result": None, "error": None,
               "finished_at": None}
        if not _USER_ID.match(user_id):
            row.update(status="failed", error=_INVALID, finished_at=utcnow())
        elif user_id in first:
            row.update(status="failed", finished_at=utcnow(),
                       error=f"repeats row {first[user_id]}: each recipient gets one row")
        else:
            first[user_id] = i
        rows.append(row)
    return rows


def create_campaign(*, services: Services, tenant_id: int, spec: CampaignIn,
                    runner: str) -> CampaignOut:
    """Store the campaign and its rows (``runner`` then runs the pending ones)."""
    settings = services.settings
    check_bounds(spec, settings)
    if len(spec.audience) > settings.campaign_max_recipients:
        raise BadInput(f"audience has {len(spec.audience)} recipients, more than "
                       f"{settings.campaign_max_recipients} (PERSONA_CAMPAIGN_MAX_RECIPIENTS); "
                       "split it into several campaigns", field="audience")
    campaign_id = "cmp_" + secrets.token_hex(12)
    with services.db.session() as s:
        exp = _experiment(s, tenant_id, spec.experiment) if spec.experiment else None
        job = CampaignJob(id=campaign_id, tenant_id=tenant_id,
                          spec=spec.model_dump(mode="json", exclude={"audience", "experiment"}),
                          experiment_id=exp.id if exp else None, experiment=spec.experiment,
                          runner=runner, total=len(spec.audience), forgotten=0)
        s.add(job)
        s.flush()
        s.execute(insert(CampaignRow), _rows(campaign_id, tenant_id, spec.audience))
    return get_campaign(services=services, tenant_id=tenant_id, campaign_id=campaign_id)


def load_job(s, tenant_id: int | None, campaign_id: str) -> CampaignJob:
    """The campaign (of ``tenant_id``; None: any tenant's, for the runners)."""
    job = s.get(CampaignJob, campaign_id)
    if job is None or (tenant_id is not None and job.tenant_id != tenant_id):
        raise NotFound(f"no campaign {campaign_id!r} for this tenant; POST /v1/campaigns "
                       "returns the id")
    return job


def get_campaign(*, services: Services, tenant_id: int, campaign_id: str) -> CampaignOut:
    with services.db.session() as s:
        job = load_job(s, tenant_id, campaign_id)
        counts = dict(s.execute(select(CampaignRow.status, func.count())
                                .where(CampaignRow.campaign_id == campaign_id)
                                .group_by(CampaignRow.status)).all())
    done, failed, pending = (counts.get(k, 0) for k in ("done", "failed", "pending"))
    # "running" once any row has finished (rows refused at creation count).
    state = "done" if pending == 0 else ("running" if done + failed else "queued")
    return CampaignOut(id=job.id, state=state, total=job.total, done=done, failed=failed,
                       pending=pending, forgotten=job.forgotten, experiment=job.experiment,
                       runner=job.runner, created_at=job.created_at)


def campaign_rows(*, services: Services, tenant_id: int, campaign_id: str,
                  cursor: int | None, limit: int) -> CampaignRowsOut:
    """Rows after ``cursor`` (a row number) in audience order, ``limit`` at most."""
    with services.db.session() as s:
        load_job(s, tenant_id, campaign_id)
        q = select(CampaignRow).where(CampaignRow.campaign_id == campaign_id)
        if cursor is not None:
            q = q.where(CampaignRow.position > cursor)
        rows = s.scalars(q.order_by(CampaignRow.position).limit(limit + 1)).all()
    page = [_row_out(services, tenant_id, r) for r in rows[:limit]]
    return CampaignRowsOut(data=page, next_cursor=page[-1].row if len(rows) > limit else None)


def _row_out(services: Services, tenant_id: int, r: CampaignRow) -> CampaignRowOut:
    got = r.result or {}
    lines = services.keys.open_json(tenant_id, r.user_id, got.get("subject_lines", []))
    return CampaignRowOut(row=r.position, user_id=r.user_id, status=r.status,
                          subject_lines=lines,
                          request_id=got.get("request_id"), variant=got.get("variant"),
                          personalized=got.get("personalized"),
                          fallback_reason=got.get("fallback_reason"), error=r.error,
                          finished_at=r.finished_at)


def unfinished(services: Services, runner: str) -> list[str]:
    """Campaigns run by ``runner`` that still have pending rows, oldest first."""
    with services.db.session() as s:
        return list(s.scalars(
            select(CampaignJob.id).where(CampaignJob.runner == runner, select(CampaignRow)
                                         .where(CampaignRow.campaign_id == CampaignJob.id,
                                                CampaignRow.status == "pending").exists())
            .order_by(CampaignJob.created_at)))
