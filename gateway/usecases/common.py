"""Pieces every generation use case shares: deadlines, preferences, bookkeeping."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.services import Services
from gateway.tables import Generation, UserPreferences


@dataclass(frozen=True)
class Preferences:
    personalization: bool = True
    locale: str = "en"
    signature: str | None = None


def deadline_after(ms: int) -> float:
    """A ``time.monotonic()`` deadline ``ms`` from now."""
    return time.monotonic() + ms / 1000.0


def ms_left(deadline: float) -> float:
    return (deadline - time.monotonic()) * 1000.0


def load_preferences(services: Services, tenant_id: int, user_id: str | None) -> Preferences:
    if not user_id:
        return Preferences()
    with services.db.session() as s:
        row = s.get(UserPreferences, (tenant_id, user_id))
        if row is None:
            return Preferences()
        return Preferences(row.personalization, row.locale, row.signature)


def record_generation(
    services: Services, *, request_id: str, tenant_id: int, user_id: str | None, task: str,
    input_text: str, outputs: list[str], model: str | None, prompt_version: str | None,
) -> None:
    """Keep what was served so feedback (request_id + index) can refer back to it."""
    with services.db.session() as s:
        s.merge(Generation(request_id=request_id, tenant_id=tenant_id, user_id=user_id,
                           task=task, input_text=input_text[:20_000], outputs=outputs,
                           model=model, prompt_version=prompt_version))


def token_counter(services: Services):
    """Count tokens as the primary model will: its own tokenizer for the local model."""
    if services.local_llm is not None and services.llm.primary.startswith("local/"):
        return services.local_llm.count_tokens
    from prompts.render import count_tokens_tiktoken

    return count_tokens_tiktoken
