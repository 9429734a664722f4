"""Retention: what the gateway keeps about requests, and for how long.

- Generations, their explanations and feedback older than ``retention_days`` are
  deleted.
- The incoming message text of a generation is kept only while feedback can refer
  to it (``feedback_window_days``); then it is cleared (its SHA-256 stays in the
  explanation). Tenants in ``hash_input_tenants`` never have it stored at all.

``purge`` does one pass (the CLI, tests and the background task call it);
``run_purges`` is the background task the app's lifespan starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from gateway.core.db import utcnow
from gateway.tables import Explanation, Feedback, Generation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    generations: int = 0
    explanations: int = 0
    feedback: int = 0
    inputs_cleared: int = 0

    @property
    def total(self) -> int:
        return self.generations + self.explanations + self.feedback + self.inputs_cleared


def input_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored_input(services, tenant: str | None, text: str) -> str:
    """The incoming text as it may be stored for this tenant: in full, or not at all."""
    return "" if tenant is not None and tenant in services.settings.hash_input_tenants \
        else text


def feedback_open(services, created_at: datetime, *, now: datetime | None = None) -> bool:
    """Whether feedback may still refer to a generation made at ``created_at``."""
    now = now or utcnow()
    if created_at.tzinfo is None:  # SQLite hands datetimes back naive (they are UTC)
        now = now.replace(tzinfo=None)
    return now - created_at <= timedelta(days=services.settings.feedback_window_days)


def purge(services, *, now: datetime | None = None) -> Purged:
    """Delete what is past retention, clear inputs past the feedback window."""
    s = services.settings
    now = now or utcnow()
    cutoff = now - timedelta(days=s.retention_days)
    input_cutoff = now - timedelta(days=s.feedback_window_days)
    with services.db.session() as db:
        counts = {}
        for name, table in (("generations", Generation), ("explanations", Explanation),
                            ("feedback", Feedback)):
            counts[name] = int(db.execute(delete(table).where(table.created_at < cutoff))
                               .rowcount or 0)
        counts["inputs_cleared"] = int(db.execute(
            update(Generation).where(Generation.created_at < input_cutoff,
                                     Generation.input_text != "")
            .values(input_text="")).rowcount or 0)
    done = Purged(**counts)
    metrics = getattr(services, "metrics", None)
    if metrics is not None:
        for name, n in counts.items():
            if n:
                metrics.purged.labels(table=name).inc(n)
    if done.total:
        services.db.checkpoint_wal()  # the deleted text leaves the WAL too
        log.info("retention purge: %s", counts)
    return done


async def run_purges(services) -> None:
    """Purge at start, then every ``retention_interval_s``, until cancelled."""
    while True:
        try:
            await asyncio.to_thread(purge, services)
        except Exception:  # a failed pass is retried at the next interval
            log.warning("retention purge failed; retrying in %.0fs",
                        services.settings.retention_interval_s, exc_info=True)
        await asyncio.sleep(services.settings.retention_interval_s)
