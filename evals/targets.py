"""Where requests go: the use cases in this process, or a running gateway over HTTP.

Both take the same API bodies and return the same response JSON, so a score
means the same thing either way. In-process calls the functions the HTTP routes
call (``gateway.usecases``), under the variant's ``GenerationPolicy``, on services
built from settings with a scratch data dir: an eval never touches a real gateway's
data. Over HTTP a variant is only what a request can express (see
``evals.variants.HTTP_VARIANTS``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from abc import ABC, abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from evals.loaders import Example
from evals.variants import Variant
from gateway.core.errors import ConfigError, GatewayError
from gateway.usecases.policy import DEFAULT_POLICY

log = logging.getLogger(__name__)
EVAL_TENANT = "eval"
HISTORY_BATCH = 100


class TargetUnavailable(GatewayError):
    """The target cannot answer at all (gateway down): stop, do not record failures."""

    type = "target_unavailable"


class Target(ABC):
    """One place requests are sent to."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def add_history(self, user_id: str, items: list[dict]) -> None:
        """Make ``items`` the user's history (idempotent on item id)."""

    @abstractmethod
    async def generate(self, task: str, example: Example, variant: Variant) -> dict:
        """The API response body for the example's request under the variant."""

    async def close(self) -> None:
        return None

    def describe(self) -> dict:
        return {}


def _usecase(task: str):
    if task == "smart-replies":
        from gateway.schemas.smart_replies import SmartReplyRequest
        from gateway.usecases.smart_replies import suggest_replies

        return suggest_replies, SmartReplyRequest
    from gateway.schemas.subject_lines import SubjectLineRequest
    from gateway.usecases.subject_lines import suggest_subject_lines

    return suggest_subject_lines, SubjectLineRequest


class InProcessTarget(Target):
    """The use-case functions on services built from ``settings`` (scratch data dir)."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.services = None
        self.tenant_id: int | None = None

    async def start(self) -> None:
        from gateway.auth import get_or_create_tenant
        from gateway.services import build_services, start_services
        from gateway.usecases.replies.prompt import warm_up_messages

        self.services = build_services(self.settings)
        await asyncio.to_thread(start_services, self.services,
                                warm_up_prompt=warm_up_messages)
        self.tenant_id = get_or_create_tenant(self.services.db, EVAL_TENANT)

    async def add_history(self, user_id: str, items: list[dict]) -> None:
        from gateway.schemas.history import HistoryItemIn

        history = self.services.history
        if history.count(self.tenant_id, user_id) >= len(items):
            return  # ingested by an earlier (interrupted) run
        parsed = [HistoryItemIn.model_validate(i).to_item() for i in items]
        step = min(self.settings.max_batch_items, 500)

        def add(batch) -> None:
            # Nothing else runs while an eval loads history: let the embedder use every core.
            with self.services.embedder.bulk(os.cpu_count() or 1):
                history.add(self.tenant_id, user_id, batch)

        for i in range(0, len(parsed), step):
            await asyncio.to_thread(add, parsed[i:i + step])

    async def generate(self, task: str, example: Example, variant: Variant) -> dict:
        fn, model = _usecase(task)
        request = model.model_validate(example.request)
        response = await fn(services=self.services, tenant_id=self.tenant_id, request=request,
                            request_id=uuid.uuid4().hex, policy=variant.policy)
        return response.model_dump(mode="json", by_alias=True)

    async def close(self) -> None:
        if self.services is not None:
            await asyncio.to_thread(self.services.close)

    def describe(self) -> dict:
        s = self.settings
        return {"runner": "in-process", "models": list(s.models),
                "embedding_model": s.embedding_model,
                "settings": s.model_dump(mode="json", exclude={"data_dir"})}


class HttpTarget(Target):
    """A running gateway, black-box: only what docs/api.md offers."""

    PATHS: ClassVar[dict[str, str]] = {"smart-replies": "/v1/smart-replies", "subject-lines": "/v1/subject-lines"}

    def __init__(self, url: str, api_key: str, *, timeout_s: float = 60.0,
                 ready_wait_s: float = 120.0, transport=None) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.ready_wait_s = ready_wait_s
        self.client = httpx.AsyncClient(base_url=self.url, timeout=timeout_s, transport=transport,
                                        headers={"Authorization": f"Bearer {api_key}"})

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + self.ready_wait_s
        while True:
            try:
                r = await self.client.get("/readyz")
                if r.status_code == 200:
                    return
            except Exception as exc:  # noqa: BLE001 - any failure here means "not reachable"
                if loop.time() >= end:
                    raise TargetUnavailable(f"cannot reach {self.url} ({exc}); start the "
                                            "gateway with 'persona serve' or fix --url") from None
            if loop.time() >= end:
                raise TargetUnavailable(f"{self.url} is not ready after {self.ready_wait_s:.0f}s "
                                        "(GET /readyz); wait for its models to load")
            await asyncio.sleep(1.0)

    async def _send(self, method: str, path: str, body: dict | None = None) -> dict | None:
        import httpx

        for attempt in range(8):
            try:
                r = await self.client.request(method, path, json=body)
            except httpx.TransportError as exc:
                if attempt >= 3:
                    raise TargetUnavailable(f"{self.url} stopped answering ({exc}); rerun the "
                                            "same command to resume") from None
                await asyncio.sleep(2.0 * (attempt + 1))
                continue
            if r.status_code in (429, 503):
                await asyncio.sleep(float(r.headers.get("Retry-After", 2)))
                continue
            if r.status_code >= 400:
                try:
                    msg = r.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    msg = r.text[:300]
                raise GatewayError(f"HTTP {r.status_code} from {path}: {msg}")
            return r.json() if r.content else None
        raise TargetUnavailable(f"{self.url} kept answering 429/503; lower --concurrency or "
                                "raise the tenant's rate limit")

    async def add_history(self, user_id: str, items: list[dict]) -> None:
        for i in range(0, len(items), HISTORY_BATCH):
            await self._send("POST", f"/v1/users/{user_id}/history",
                             {"items": items[i:i + HISTORY_BATCH]})

    async def generate(self, task: str, example: Example, variant: Variant) -> dict:
        body = dict(example.request)
        policy = variant.policy
        if policy == replace(DEFAULT_POLICY, personalize=False) and task == "subject-lines":
            body.pop("user_id", None)  # a request without a user reads no history
        elif policy != DEFAULT_POLICY:
            raise ConfigError(f"variant {variant.name!r} needs the in-process runner: the "
                              "HTTP API has no policy field (drop --url)")
        return await self._send("POST", self.PATHS[task], body)

    async def close(self) -> None:
        await self.client.aclose()

    def describe(self) -> dict:
        return {"runner": "http", "url": self.url}


def in_process_settings(config: Path | None, scratch: Path, overrides: dict | None = None):
    """Settings from a file (or the environment), with the data dir forced to scratch
    and the eval's own ``overrides`` (e.g. ``evals.style_data.STYLE_SETTINGS``) on top."""
    from gateway.core.settings import load_settings

    return load_settings(config, **{**(overrides or {}), "data_dir": scratch,
                                    "rate_limit_per_minute": 0})
