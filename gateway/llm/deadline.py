"""The wall-clock deadline of the current model call, visible to providers.

Set by ``LLMClient`` before it hands the call to a worker thread
(``asyncio.to_thread`` copies the context), read by in-process providers so a
generation stops itself instead of holding the model after its caller gave up.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("persona_llm_deadline", default=None)


def current_deadline() -> float | None:
    """``time.monotonic()`` value after which the current call is useless, or None."""
    return _deadline.get()


def seconds_left() -> float | None:
    d = _deadline.get()
    return None if d is None else d - time.monotonic()


def set_deadline(value: float | None):
    return _deadline.set(value)


def reset_deadline(token) -> None:
    _deadline.reset(token)


class LLMTimer:
    """Accumulates time spent inside model calls for one HTTP request."""

    def __init__(self) -> None:
        self.seconds = 0.0


llm_timer: ContextVar[LLMTimer | None] = ContextVar("persona_llm_timer", default=None)
