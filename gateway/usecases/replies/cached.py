"""The smart-reply answer cache, seen from the use case: what an entry is keyed by
(``digest``; the user's history version is the cache's own), which answers are kept
(``CACHEABLE_REASONS``), how a hit is served under the new request's id (``serve``:
recorded, explained, counted and seen by the drift monitor like any answer) and what
an entry stores (``remember``). The store itself is ``gateway.replycache``."""

from __future__ import annotations

import time
from types import SimpleNamespace

from gateway.replycache import request_digest
from gateway.schemas.common import Suggestion
from gateway.schemas.smart_replies import SmartReplyRequest, SmartReplyResponse
from gateway.services import Services
from gateway.usecases.replies.prompt import TASK
from gateway.usecases.replies.served import record_served
from prompts.render import default_library

# Answers worth serving again. Never a timeout, an overload or a model error: those
# were this moment's fallbacks, and the next request may well get the model.
CACHEABLE_REASONS = (None, "outranked", "personalization_off", "no_history")


def digest(services: Services, request: SmartReplyRequest, *, tenant_version: int) -> str:
    """What decides the answer besides the user's history and preferences (their
    version is the cache's): the request, the prompt and models, and the version of
    the tenant's response set (``ReplyCache.versions``: bumped when a user is forgotten
    or opts out, so no answer built on their replies is served again). Not
    ``deadline_ms``: devices asking with different deadlines still see the same
    suggestions."""
    return request_digest({
        "tenant_version": tenant_version,
        "message": request.message.model_dump(by_alias=True),
        "thread": [m.model_dump(by_alias=True) for m in request.thread],
        "n": request.n, "max_chars": request.max_chars, "explain": request.explain,
        "prompt_version": default_library().latest(TASK),
        "models": services.settings.models,
    })


async def serve(services: Services, cached: dict, *, tenant_id: int,
                request: SmartReplyRequest, request_id: str, tenant: str,
                correlation_id: str | None, started: float) -> SmartReplyResponse:
    """The cached answer under this request's id: recorded with its explanation (so
    feedback and GET /v1/requests/{id} refer to it), counted and seen by the drift
    monitor like any answer served."""
    answer = cached["response"]
    suggestions = [Suggestion(**x) for x in answer["suggestions"]]
    reason = answer["fallback_reason"]
    # What was worked out for the original request, now explaining this one.
    why = dict(cached["explanation"], request_id=request_id)
    trace = SimpleNamespace(candidates=why["candidates"], to_dict=lambda: why)

    await record_served(services, tenant_id=tenant_id, tenant=tenant, request=request,
                        request_id=request_id, correlation_id=correlation_id,
                        suggestions=suggestions, model=answer["model"],
                        prompt_version=answer["prompt_version"], reason=reason,
                        message_vec=cached["vec"], trace=trace, due=started)
    return SmartReplyResponse(**answer, request_id=request_id,
                              latency_ms=int((time.monotonic() - started) * 1000))


def remember(services: Services, tenant_id: int, user_id: str, slot: tuple[int, str],
             response: SmartReplyResponse, message_vec, trace) -> None:
    """Cache an answer with its explanation (``trace.to_dict()``: GET /v1/requests/{id}
    of a hit) and the message embedding (the drift monitor observes hits too)."""
    vec = None if message_vec is None else [round(float(x), 6) for x in message_vec]
    services.reply_cache.put(tenant_id, user_id, *slot, {
        "response": response.model_dump(exclude={"request_id", "latency_ms"}),
        "explanation": trace.to_dict(), "vec": vec})
