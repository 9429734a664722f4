"""Forget a user: each owner of the user's data deletes its part, all in this one place.

First the user's data key is destroyed (``gateway.core.keyring``): every text and
vector of theirs is sealed with it, so the copies no DELETE reaches (PostgreSQL's
dead tuples and WAL, SQLite pages not yet overwritten, backups, Redis snapshots)
can no longer be read. Then the rows themselves go. Owners: the gateway's records (generations, explanations, feedback, preferences:
``gateway.tables``), the experiments' assignments and exposures, the campaigns' rows
(each campaign keeps a count of them),
the history store (items, their vectors, the index snapshot file and the cached index:
``HistoryService.delete_user``), the user's cached smart replies, then the database's WAL, checkpointed and truncated so
no copy of deleted text stays on disk (secure_delete zeroes the freed pages).

Each step is its own transaction and idempotent: if the process dies midway, the
same DELETE (a 204 for a user with nothing left) finishes the job.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete

from embeddings.items import check_user_id
from gateway.services import Services
from gateway.tables import Explanation, Feedback, Generation, UserPreferences
from gateway.usecases.campaigns.forget import forget_campaign_rows
from gateway.usecases.experiments.forget import forget_experiment_rows

log = logging.getLogger(__name__)

RECORDS = (Feedback, Generation, Explanation, UserPreferences)  # every gateway table keyed by user


def forget_user(*, services: Services, tenant_id: int, user_id: str) -> None:
    check_user_id(user_id)
    services.keys.destroy(tenant_id, user_id)
    with services.db.session() as s:
        for table in RECORDS:
            s.execute(delete(table).where(table.tenant_id == tenant_id,
                                          table.user_id == user_id))
    forget_experiment_rows(services, tenant_id, user_id)  # assignments, exposures
    forget_campaign_rows(services, tenant_id, user_id)  # their rows; campaigns keep counts
    services.history.delete_user(tenant_id, user_id)
    services.reply_cache.forget(tenant_id, user_id)  # no cached reply outlives the user
    services.tenant_replies.drop(tenant_id)  # their replies no longer count towards k
    services.reply_cache.bump_tenant(tenant_id)  # nor do answers built on them
    if not services.db.checkpoint_wal():
        log.warning("WAL checkpoint stayed busy after a user delete; the deleted rows "
                    "leave the WAL at the next checkpoint")
