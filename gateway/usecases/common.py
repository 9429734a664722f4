"""Pieces every generation use case shares: deadlines, preferences, bookkeeping."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.core.settings import is_local_model
from gateway.services import Services
from gateway.tables import Generation, UserPreferences


@dataclass(frozen=True)
class Preferences:
    personalization: bool = True
    locale: str = "en"
    signature: str | None = None


@dataclass(frozen=True)
class Deadline:
    """One request's time plan on the ``time.monotonic()`` clock: when the answer is due
    (``at``) and when the model must stop (``model_at``), which leaves a reserve for
    guardrails and ranking and, optionally, caps sampling at a latency budget.

    ``start`` is when the request arrived (the HTTP layer records it first thing), so
    the deadline and ``latency_ms`` include the time spent before the use case ran."""

    start: float
    at: float
    model_at: float

    @classmethod
    def plan(cls, total_ms: float, *, reserve_ms: float,
             model_budget_ms: float | None = None, start: float | None = None) -> Deadline:
        start = time.monotonic() if start is None else start
        at = start + total_ms / 1000.0
        model_at = at - reserve_ms / 1000.0
        if model_budget_ms is not None:
            model_at = min(model_at, start + model_budget_ms / 1000.0)
        return cls(start=start, at=at, model_at=model_at)

    def left_ms(self) -> float:
        return (self.at - time.monotonic()) * 1000.0

    def model_left_ms(self) -> float:
        return (self.model_at - time.monotonic()) * 1000.0

    def finish_by(self, share: float = 0.1, most_ms: float = 100.0) -> float:
        """When the last step (selection, bookkeeping) must start: a small share of the
        whole time before ``at``; guardrails stop half way to it."""
        return self.at - min((self.at - self.start) * share, most_ms / 1000.0)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.start) * 1000)


def load_preferences(services: Services, tenant_id: int, user_id: str | None) -> Preferences:
    if not user_id:
        return Preferences()
    with services.db.session() as s:
        row = s.get(UserPreferences, (tenant_id, user_id))
    if row is None:
        return Preferences()
    return Preferences(row.personalization, row.locale,
                       services.keys.open_text(tenant_id, user_id, row.signature))


def record_generation(
    services: Services, *, request_id: str, tenant_id: int, user_id: str | None, task: str,
    input_text: str, outputs: list[str], model: str | None, prompt_version: str | None,
    correlation_id: str | None = None, trace=None, tenant: str | None = None,
) -> None:
    """Keep what was served so feedback (request_id + index) can refer back to it, and
    why (``trace``, a ``gateway.usecases.explain.Trace``) in the same transaction.

    A plain insert keyed by (tenant_id, request_id): ``request_id`` is the gateway's own
    id, so a second record under the same key is a bug and fails loudly instead of
    silently replacing what was served. ``correlation_id`` is the client's
    ``X-Request-ID``, stored for tracing only. ``tenant`` (the name) decides whether the
    input is stored or only hashed (``hash_input_tenants``)."""
    from gateway.tables import Explanation
    from gateway.usecases.retention import input_hash, stored_input

    text = stored_input(services, tenant, input_text[:services.settings.max_text_chars])
    data = trace.to_dict() if trace is not None else None
    if user_id:  # the user's texts are sealed with their data key (gateway.core.crypto)
        key = services.keys.writer(tenant_id, user_id)
        text, outputs = key.seal_text(text) if text else text, key.seal_json(outputs)
        data = key.seal_json(data) if data is not None else None
    with services.db.session() as s:
        s.add(Generation(request_id=request_id, tenant_id=tenant_id, user_id=user_id,
                         correlation_id=correlation_id, task=task, input_text=text,
                         outputs=outputs, model=model, prompt_version=prompt_version))
        if data is not None:
            s.add(Explanation(request_id=request_id, tenant_id=tenant_id, user_id=user_id,
                              task=task, input_hash=input_hash(input_text), data=data))


def token_counter(services: Services):
    """Count tokens as the primary model will: its own tokenizer for the local model."""
    if services.local_llm is not None and is_local_model(services.llm.primary):
        return services.local_llm.count_tokens
    from prompts.render import count_tokens_tiktoken

    return count_tokens_tiktoken
