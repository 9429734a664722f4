"""The wall-clock deadline of the current model call, visible to providers.

Set by ``LLMClient`` around each call (the task that runs the call copies it; the
local model's own thread runs in a copy too), read by in-process providers so a
generation stops itself instead of holding the model after its caller gave up.
"""

from __future__ import annotations

from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("persona_llm_deadline", default=None)


def current_deadline() -> float | None:
    """``time.monotonic()`` value after which the current call is useless, or None."""
    return _deadline.get()


def set_deadline(value: float | None):
    return _deadline.set(value)


def reset_deadline(token) -> None:
    _deadline.reset(token)


class LLMTimer:
    """Accumulates time spent inside model calls for one HTTP request."""

    def __init__(self) -> None:
        self.seconds = 0.0


llm_timer: ContextVar[LLMTimer | None] = ContextVar("persona_llm_timer", default=None)
