"""Who runs a campaign's rows: this process, or the Redis job queue.

- ``LocalRunner`` (the embedded default, no ``PERSONA_REDIS_URL``): an asyncio task in
  the gateway's process, ``campaign_concurrency`` rows at once (their CPU work goes
  through the work pool like any request's). At start-up it resumes every local
  campaign with pending rows, so a restart loses nothing but the rows in flight.
- ``QueueRunner`` (the fleet path): the audience is cut into chunks of
  ``campaign_chunk_size`` rows, one arq task each (job id = campaign + first row, so
  enqueueing twice is a no-op); ``persona worker`` processes on any machine take them.
  At start-up it enqueues the chunks of queued campaigns that still have pending rows
  (a task lost with Redis, or refused when the POST could not reach it).
"""

from __future__ import annotations

import asyncio
import logging

from gateway.core.errors import NotReady
from gateway.services import Services
from gateway.usecases.campaigns.jobs import unfinished
from gateway.usecases.campaigns.rows import pending, run_rows

log = logging.getLogger(__name__)

QUEUE = "persona:campaigns"
CHUNK_TASK = "campaign_chunk"


class LocalRunner:
    kind = "local"

    def __init__(self, services: Services) -> None:
        self.services = services
        self._tasks: dict[str, asyncio.Task] = {}

    async def submit(self, campaign_id: str) -> None:
        if campaign_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._run(campaign_id))
        self._tasks[campaign_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(campaign_id, None))

    async def _run(self, campaign_id: str) -> None:
        try:
            await run_rows(self.services, campaign_id,
                           concurrency=self.services.settings.campaign_concurrency)
        except Exception:  # rows written so far stay; the next start resumes the rest
            log.exception("campaign %s stopped; the next start resumes it", campaign_id)

    async def resume(self) -> None:
        for campaign_id in await asyncio.to_thread(unfinished, self.services, self.kind):
            log.info("resuming campaign %s from its first unfinished row", campaign_id)
            await self.submit(campaign_id)

    async def wait(self) -> None:
        """Until every submitted campaign has run (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)


def redis_settings(url: str):
    from arq.connections import RedisSettings

    return RedisSettings.from_dsn(url)


def chunk_starts(rows: list[tuple[int, str]], size: int) -> list[int]:
    """The first row of every chunk that holds a pending row."""
    return sorted({position - position % size for position, _ in rows})


class QueueRunner:
    kind = "queue"

    def __init__(self, services: Services) -> None:
        self.services = services

    async def submit(self, campaign_id: str) -> None:
        from arq import create_pool
        from redis.exceptions import RedisError

        s = self.services.settings
        rows = await asyncio.to_thread(pending, self.services, campaign_id)
        try:
            pool = await create_pool(redis_settings(s.redis_url), default_queue_name=QUEUE)
            try:
                for start in chunk_starts(rows, s.campaign_chunk_size):
                    await pool.enqueue_job(CHUNK_TASK, campaign_id, start,
                                           start + s.campaign_chunk_size,
                                           _job_id=f"{campaign_id}:{start}")
            finally:
                await pool.aclose()
        except (OSError, RedisError) as exc:
            raise NotReady(f"the job queue at PERSONA_REDIS_URL is unreachable ({exc}); the "
                           f"campaign {campaign_id} is stored and is queued when a gateway "
                           "next starts, or POST it again") from None

    async def resume(self) -> None:
        for campaign_id in await asyncio.to_thread(unfinished, self.services, self.kind):
            try:
                await self.submit(campaign_id)
            except NotReady as exc:
                log.warning("%s", exc.message)
                return

    async def wait(self) -> None:
        return None

    async def close(self) -> None:
        return None


def make_runner(services: Services) -> LocalRunner | QueueRunner:
    return QueueRunner(services) if services.settings.redis_url else LocalRunner(services)
