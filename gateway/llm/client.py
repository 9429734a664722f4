"""``LLMClient``: model chain, per-call timeout, bounded retries, concurrency limit."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

from gateway.errors import LLMError, LLMOverloaded, LLMTimeout
from gateway.llm.deadline import current_deadline, llm_timer, reset_deadline, set_deadline

log = logging.getLogger(__name__)


def _litellm():
    # Never let litellm reach for the network at import (model cost map).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    latency_ms: float
    # As the provider reported it: "stop", or "length" when max_tokens cut the text off.
    finish_reason: str | None = None


class LLMClient:
    """Calls the first model of the chain that answers in time.

    ``timeout_s`` bounds each attempt; ``deadline`` (a ``time.monotonic()`` value)
    bounds the whole call, across retries and fallbacks. When it passes, the call
    raises ``LLMTimeout`` at once: the caller answers from rules, and an in-process
    generation sees the deadline through ``current_deadline()`` and stops itself.

    Calls go through ``litellm.acompletion``: no thread is held per call, and a call
    cancelled at its deadline really stops (a hosted model's HTTP stream is closed,
    so a trickling upstream cannot keep the slot). At most ``concurrency`` calls run
    at once; when the calls queued ahead would keep this one waiting past its deadline
    (at the pace calls have been taking), it raises ``LLMOverloaded`` at once.
    """

    def __init__(
        self,
        models: list[str],
        *,
        timeout_s: float = 10.0,
        retries: int = 1,
        concurrency: int = 1,
        metrics=None,
    ):
        if not models:
            raise ValueError("LLMClient needs at least one model")
        self.models = list(models)
        self.timeout_s = timeout_s
        self.retries = retries
        self.metrics = metrics
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0  # calls queued for a slot
        self._busy = 0  # calls holding a slot
        self._hold_s = 0.0  # moving average of how long a call holds its slot

    @property
    def primary(self) -> str:
        return self.models[0]

    async def complete(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 64,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
        deadline: float | None = None,
        models: list[str] | tuple[str, ...] | None = None,
    ) -> Completion:
        """``models``: call this chain instead of the client's (an experiment variant's)."""
        deadline = deadline if deadline is not None else current_deadline()
        errors: list[str] = []
        attempts = 0
        for model in (models or self.models):
            for attempt in range(self.retries + 1):
                budget = self._budget(deadline)
                if budget <= 0:
                    raise LLMTimeout("deadline passed before the model answered",
                                     model=model, attempts=attempts)
                attempts += 1
                try:
                    return await self._call(model, messages, budget, deadline,
                                            max_tokens=max_tokens, temperature=temperature,
                                            stop=stop, seed=seed)
                except LLMOverloaded:
                    raise  # the slots are shared by every model of the chain
                except LLMTimeout as exc:
                    errors.append(f"{model}: timeout")
                    if deadline is not None and time.monotonic() >= deadline:
                        raise LLMTimeout(str(exc), model=model, attempts=attempts) from exc
                    break  # a timed-out model is not retried; try the next one
                except Exception as exc:  # noqa: BLE001 - litellm raises many types; all mean "this try failed"
                    errors.append(f"{model}: {type(exc).__name__}: {exc}"[:300])
                    log.warning("model call failed (%s, attempt %d): %s", model, attempt + 1, exc)
        if all(e.endswith(": timeout") for e in errors):
            raise LLMTimeout("every model in the chain timed out: " + "; ".join(errors),
                             attempts=attempts)
        raise LLMError("every model in the chain failed: " + "; ".join(errors), attempts=attempts)

    def _budget(self, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout_s
        return min(self.timeout_s, deadline - time.monotonic())

    def expected_wait_s(self) -> float:
        """How long a call queued now would wait for a slot, at the recent pace."""
        ahead = self._waiting + self._busy + 1 - self.concurrency
        if ahead <= 0:
            return 0.0
        return -(-ahead // self.concurrency) * self._hold_s

    def _shed_if_late(self, model: str, call_deadline: float) -> None:
        queued = self._waiting + self._busy >= self.concurrency
        if queued and time.monotonic() + self.expected_wait_s() + self._hold_s > call_deadline:
            raise LLMOverloaded(
                    f"{self._waiting} model calls are queued for {self.concurrency} slot(s); "
                    "this one could not finish before its deadline (raise llm_concurrency "
                    "for a hosted model)", model=model)

    async def _call(self, model, messages, budget, deadline, **params) -> Completion:
        call_deadline = time.monotonic() + budget
        if deadline is not None:
            call_deadline = min(call_deadline, deadline)
        started = time.monotonic()
        outcome = "error"
        try:
            try:
                self._shed_if_late(model, call_deadline)
            except LLMOverloaded:
                outcome = "overloaded"
                raise
            self._waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=max(budget, 0.0))
            except TimeoutError as exc:
                outcome = "timeout"
                raise LLMTimeout("no model slot free before the deadline", model=model) from exc
            finally:
                self._waiting -= 1
            self._busy += 1
            held = time.monotonic()
            # The deadline rides in our context: the task wait_for runs the call in copies
            # it, so an in-process provider can see it and stop itself.
            token = set_deadline(call_deadline)
            try:
                left = call_deadline - time.monotonic()
                try:
                    text, finish_reason = await asyncio.wait_for(
                        self._acall(model, messages, left, params), timeout=max(left, 0.0))
                except TimeoutError as exc:
                    outcome = "timeout"
                    raise LLMTimeout(f"model {model} did not answer within {budget:.2f}s",
                                     model=model) from exc
                if time.monotonic() >= call_deadline:
                    # The provider stopped itself at the deadline and handed back a cut-off
                    # text: that is a timeout, not an answer.
                    outcome = "timeout"
                    raise LLMTimeout(f"model {model} was cut off at the deadline", model=model)
            finally:
                reset_deadline(token)
                self._busy -= 1
                self._slots.release()
                hold = time.monotonic() - held
                self._hold_s = hold if not self._hold_s else 0.8 * self._hold_s + 0.2 * hold
            outcome = "ok"
            return Completion(text=text, model=model,
                              latency_ms=(time.monotonic() - started) * 1000,
                              finish_reason=finish_reason)
        finally:
            elapsed = time.monotonic() - started
            timer = llm_timer.get()
            if timer is not None:
                timer.seconds += elapsed
            if self.metrics is not None:
                self.metrics.llm_calls.labels(model=model, outcome=outcome).inc()
                self.metrics.llm_latency.labels(model=model).observe(elapsed)

    @staticmethod
    async def _acall(model: str, messages: list[dict], timeout: float,
                     params: dict) -> tuple[str, str | None]:
        litellm = _litellm()
        kwargs = {k: v for k, v in params.items() if v is not None}
        resp = await litellm.acompletion(
            model=model, messages=messages, timeout=max(timeout, 0.01), num_retries=0, **kwargs
        )
        return _text_of(model, resp)

    @staticmethod
    def call_blocking(model: str, messages: list[dict], timeout: float,
                      params: dict) -> tuple[str, str | None]:
        """One litellm call in the calling thread, no deadline or retries (start-up warm-up):
        the text and the finish reason."""
        litellm = _litellm()
        kwargs = {k: v for k, v in params.items() if v is not None}
        resp = litellm.completion(
            model=model, messages=messages, timeout=max(timeout, 0.01), num_retries=0, **kwargs
        )
        return _text_of(model, resp)


def _text_of(model: str, resp) -> tuple[str, str | None]:
    choice = resp.choices[0]
    if choice.message.content is None:
        raise LLMError(f"model {model} returned no text", model=model)
    return choice.message.content, getattr(choice, "finish_reason", None)
