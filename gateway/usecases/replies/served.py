"""What every smart-reply answer served goes through, computed or from the cache: its
record (feedback and GET /v1/requests/{id} refer to it, with its explanation), the
drift monitor, and the served-suggestion and fallback counters."""

from __future__ import annotations

from gateway.drift import observe_generation
from gateway.schemas.common import Suggestion
from gateway.schemas.smart_replies import SmartReplyRequest
from gateway.services import Services
from gateway.usecases.common import record_generation
from gateway.usecases.replies.prompt import TASK


async def record_served(services: Services, *, tenant_id: int, tenant: str,
                        request: SmartReplyRequest, request_id: str,
                        correlation_id: str | None, suggestions: list[Suggestion],
                        model: str | None, prompt_version: str | None, reason: str | None,
                        message_vec, trace, due: float) -> None:
    """Record and observe in the work pool (``due``: its priority), then count."""
    def record():
        record_generation(
            services, request_id=request_id, tenant_id=tenant_id, user_id=request.user_id,
            task=TASK, input_text=request.message.body, outputs=[x.text for x in suggestions],
            model=model, prompt_version=prompt_version, correlation_id=correlation_id,
            trace=trace, tenant=tenant)
        observe_generation(services, tenant=tenant, task=TASK, request_id=request_id,
                           message_vec=message_vec, served=suggestions, fallback=reason,
                           trace=trace)

    await services.work.run(record, due=due)
    m = services.metrics
    if reason is not None:
        m.fallbacks.labels(tenant=tenant, task=TASK, reason=reason).inc()
    for c in suggestions:
        m.suggestions.labels(tenant=tenant, task=TASK, source=c.source).inc()
