"""Forgetting a user removes their campaign rows (subject lines, request ids, errors).

Each campaign keeps only a count of the rows removed (``forgotten``), so its progress
still adds up to its audience; a pending row removed this way is never generated, and
a row in flight when the user is forgotten finds nothing to write.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from gateway.services import Services
from gateway.tables import CampaignJob, CampaignRow


def forget_campaign_rows(services: Services, tenant_id: int, user_id: str) -> None:
    mine = (CampaignRow.tenant_id == tenant_id, CampaignRow.user_id == user_id)
    with services.db.session() as s:
        counts = s.execute(select(CampaignRow.campaign_id, func.count()).where(*mine)
                           .group_by(CampaignRow.campaign_id)).all()
        for campaign_id, n in counts:
            s.execute(update(CampaignJob).where(CampaignJob.id == campaign_id)
                      .values(forgotten=CampaignJob.forgotten + n))
        s.execute(delete(CampaignRow).where(*mine))
