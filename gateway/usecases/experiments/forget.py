"""Forgetting a user removes their experiment assignments and exposures.

Results are recomputed from what remains: they hold counts, never user ids, so a
forgotten user simply stops being counted.
"""

from __future__ import annotations

from sqlalchemy import delete

from gateway.services import Services
from gateway.tables import ExperimentAssignment, Exposure


def forget_experiment_rows(services: Services, tenant_id: int, user_id: str) -> None:
    with services.db.session() as s:
        for table in (ExperimentAssignment, Exposure):
            s.execute(delete(table).where(table.tenant_id == tenant_id,
                                          table.user_id == user_id))
