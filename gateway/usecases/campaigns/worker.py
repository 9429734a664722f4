"""The arq worker that ``persona worker`` runs: it takes campaign chunks off Redis.

Each worker builds the same services as the gateway (``build_services``, models
loaded once at start) and runs one chunk at a time, ``campaign_concurrency`` rows at
once. A chunk that nears ``campaign_chunk_timeout_s`` stops taking rows, cancels the
rows in flight at 90% of it and asks arq to retry it (the rest run then), so a slow
chunk is never failed for good by arq's own timeout. A worker killed mid-chunk loses only its rows in
flight: finished rows are committed one by one, and arq hands the chunk to another
worker once its in-progress mark expires (the timeout plus 10 s); that worker runs
only the rows still pending.
"""

from __future__ import annotations

import asyncio
import time

from gateway.core.settings import Settings
from gateway.usecases.campaigns.rows import pending, run_rows
from gateway.usecases.campaigns.runners import CHUNK_TASK, QUEUE, redis_settings

_STOP_TAKING = 0.8  # of the chunk timeout: take no new row after it
_CUT_OFF = 0.9  # of the chunk timeout: cancel the rows in flight and retry the chunk
_MAX_TRIES = 20  # every try but a dead worker's finishes rows, so retries make progress


async def campaign_chunk(ctx: dict, campaign_id: str, start: int, stop: int) -> int:
    from arq import Retry

    services = ctx["services"]
    budget = services.settings.campaign_chunk_timeout_s
    try:
        # Before arq's own timeout (which fails the task for good): retry instead.
        written = await asyncio.wait_for(
            run_rows(services, campaign_id, start=start, stop=stop,
                     concurrency=services.settings.campaign_concurrency,
                     stop_by=time.monotonic() + _STOP_TAKING * budget), _CUT_OFF * budget)
    except TimeoutError:
        raise Retry(defer=1) from None
    if await asyncio.to_thread(pending, services, campaign_id, start, stop):
        raise Retry(defer=1)
    return written


async def _startup(ctx: dict) -> None:
    from gateway.services import build_services, start_services

    services = build_services(ctx["settings"])
    await asyncio.to_thread(start_services, services)
    ctx["services"] = services


async def _shutdown(ctx: dict) -> None:
    if "services" in ctx:
        ctx["services"].close()


def worker_options(settings: Settings, *, burst: bool = False) -> dict:
    """Keyword arguments for ``arq.worker.Worker``."""
    from arq.worker import func

    return {
        "functions": [func(campaign_chunk, name=CHUNK_TASK,
                           timeout=settings.campaign_chunk_timeout_s, keep_result=0,
                           max_tries=_MAX_TRIES)],
        "queue_name": QUEUE,
        "redis_settings": redis_settings(settings.redis_url),
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "ctx": {"settings": settings},
        "max_jobs": 1,
        "poll_delay": 0.2,
        "burst": burst,
    }
