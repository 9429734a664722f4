"""``LLMClient``: model chain, per-call timeout, bounded retries, concurrency limit."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.core.errors import LLMError, LLMOverloaded, LLMTimeout
from gateway.core.settings import LOCAL_MODEL_PREFIX
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
    # Every choice's text when ``n`` > 1 was asked of a model that supports it.
    texts: tuple[str, ...] = ()

# Models run inside this process (the embedded GGUF model, the scripted fake): one
# generation at a time, no ``n``.
IN_PROCESS = (LOCAL_MODEL_PREFIX, "fake/")


class _Slots:
    """A bound on calls in flight, and the pace they have been holding a slot at."""

    def __init__(self, size: int, setting: str):
        self.size = size
        self.setting = setting
        self.sem = asyncio.Semaphore(size)
        self.waiting = 0  # calls queued for a slot
        self.busy = 0  # calls holding a slot
        self.hold_s = 0.0  # moving average of how long a call holds its slot

    def expected_wait_s(self) -> float:
        """How long a call queued now would wait for a slot, at the recent pace."""
        ahead = self.waiting + self.busy + 1 - self.size
        if ahead <= 0:
            return 0.0
        return -(-ahead // self.size) * self.hold_s

    def held(self, seconds: float) -> None:
        self.hold_s = seconds if not self.hold_s else 0.8 * self.hold_s + 0.2 * seconds


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
    In-process models (``local/*``, ``fake/*``) share ``concurrency`` slots; hosted
    models share ``hosted_concurrency`` (default: the same number) of their own, so a
    slow hosted call never waits behind the embedded model or the other way round.

    With a ``router`` (``gateway.llm.router.ModelRouter``), a model named by the router
    is called through it: its retries, fallbacks and per-deployment timeouts apply
    inside this call's deadline.
    """

    def __init__(
        self,
        models: list[str],
        *,
        timeout_s: float = 10.0,
        retries: int = 1,
        concurrency: int = 1,
        hosted_concurrency: int | None = None,
        router=None,
        metrics=None,
    ):
        if not models:
            raise ValueError("LLMClient needs at least one model")
        self.models = list(models)
        self.timeout_s = timeout_s
        self.retries = retries
        self.metrics = metrics
        self.router = router
        self._local = _Slots(concurrency, "llm_concurrency")
        self._hosted = _Slots(hosted_concurrency or concurrency, "hosted_llm_concurrency")

    @property
    def primary(self) -> str:
        return self.models[0]

    def first(self, models: Sequence[str] | None = None) -> str:
        """The model a call goes to first: ``models``' first (an experiment variant's
        chain) or the client's primary."""
        return models[0] if models else self.primary

    def _routed(self, model: str) -> bool:
        return self.router is not None and self.router.serves(model)

    def in_process(self, model: str) -> bool:
        return not self._routed(model) and model.startswith(IN_PROCESS)

    def supports_n(self, model: str) -> bool:
        """Whether one call can return several choices (``n``): a hosted model whose
        provider takes the parameter, by litellm's table."""
        if self.in_process(model):
            return False
        target = self.router.deployment_model(model) if self._routed(model) else model
        if not target or target.startswith(IN_PROCESS):
            return False
        try:
            litellm = _litellm()
            name, provider, _, _ = litellm.get_llm_provider(target)
            params = litellm.get_supported_openai_params(model=name, custom_llm_provider=provider)
        except Exception:  # noqa: BLE001 - an unknown provider simply does not get n
            return False
        return "n" in (params or ())

    def _slots_for(self, model: str) -> _Slots:
        return self._local if self.in_process(model) else self._hosted

    async def complete(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 64,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
        deadline: float | None = None,
        n: int = 1,
        models: list[str] | tuple[str, ...] | None = None,
    ) -> Completion:
        """``n`` > 1 asks for several choices in one call (``Completion.texts``) where
        the model supports it; other models of the chain answer with one. ``models``:
        call this chain instead of the client's (an experiment variant's)."""
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
                                            stop=stop, seed=seed,
                                            n=n if n > 1 and self.supports_n(model) else None)
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

    async def score(self, messages: list[dict], texts: list[str], *,
                    deadline: float, models: list[str] | tuple[str, ...] | None = None,
                    ) -> list[float | None] | None:
        """The primary model's mean log-probability per token of each text as its next
        assistant turn (None for a text it had no time for), or None when that model
        cannot score: a hosted model, a provider without a scorer, or a failure. Holds
        one in-process slot, like a generation; never raises."""
        model = (models or self.models)[0]
        scorer = scorer_for(model) if self.in_process(model) else None
        if scorer is None or not texts or time.monotonic() >= deadline:
            return None
        slots = self._local
        try:
            await asyncio.wait_for(slots.sem.acquire(),
                                   timeout=max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            return None
        slots.busy += 1
        token = set_deadline(deadline)
        try:
            return await asyncio.wait_for(scorer(messages, list(texts)),
                                          timeout=max(deadline - time.monotonic(), 0.0) + 0.05)
        except TimeoutError:
            log.debug("model scoring ran out of time (%s)", model)
            return None
        except Exception as exc:  # noqa: BLE001 - scoring is optional: rank without it
            log.warning("model scoring failed (%s): %s", model, exc)
            return None
        finally:
            reset_deadline(token)
            slots.busy -= 1
            slots.sem.release()

    def _budget(self, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout_s
        return min(self.timeout_s, deadline - time.monotonic())

    @staticmethod
    def _shed_if_late(slots: _Slots, model: str, call_deadline: float) -> None:
        queued = slots.waiting + slots.busy >= slots.size
        if queued and time.monotonic() + slots.expected_wait_s() + slots.hold_s > call_deadline:
            raise LLMOverloaded(
                    f"{slots.waiting} model calls are queued for {slots.size} slot(s); "
                    f"this one could not finish before its deadline (raise {slots.setting} "
                    "if the model can take more calls at once)", model=model)

    async def _call(self, model, messages, budget, deadline, **params) -> Completion:
        call_deadline = time.monotonic() + budget
        if deadline is not None:
            call_deadline = min(call_deadline, deadline)
        started = time.monotonic()
        outcome = "error"
        slots = self._slots_for(model)
        try:
            try:
                self._shed_if_late(slots, model, call_deadline)
            except LLMOverloaded:
                outcome = "overloaded"
                raise
            slots.waiting += 1
            try:
                await asyncio.wait_for(slots.sem.acquire(), timeout=max(budget, 0.0))
            except TimeoutError as exc:
                outcome = "timeout"
                raise LLMTimeout("no model slot free before the deadline", model=model) from exc
            finally:
                slots.waiting -= 1
            slots.busy += 1
            held = time.monotonic()
            # The deadline rides in our context: the task wait_for runs the call in copies
            # it, so an in-process provider can see it and stop itself.
            token = set_deadline(call_deadline)
            try:
                left = call_deadline - time.monotonic()
                try:
                    texts, finish_reason = await asyncio.wait_for(
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
                slots.busy -= 1
                slots.sem.release()
                slots.held(time.monotonic() - held)
            outcome = "ok"
            return Completion(text=texts[0], model=model,
                              latency_ms=(time.monotonic() - started) * 1000,
                              finish_reason=finish_reason, texts=tuple(texts))
        finally:
            elapsed = time.monotonic() - started
            timer = llm_timer.get()
            if timer is not None:
                timer.seconds += elapsed
            if self.metrics is not None:
                self.metrics.llm_calls.labels(model=model, outcome=outcome).inc()
                self.metrics.llm_latency.labels(model=model).observe(elapsed)

    async def _acall(self, model: str, messages: list[dict], timeout: float,
                     params: dict) -> tuple[list[str], str | None]:
        kwargs = {k: v for k, v in params.items() if v is not None}
        if self._routed(model):
            # The router's own per-deployment timeouts, retries and fallbacks apply; the
            # deadline bounds them all (the caller's wait_for cancels the call).
            resp = await self.router.acompletion(model=model, messages=messages, **kwargs)
        else:
            resp = await _litellm().acompletion(
                model=model, messages=messages, timeout=max(timeout, 0.01), num_retries=0,
                **kwargs)
        return _texts_of(model, resp)

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
        texts, finish_reason = _texts_of(model, resp)
        return texts[0], finish_reason


def scorer_for(model: str):
    """The installed ``ascore`` of ``model``'s custom provider, or None."""
    name = model.split("/", 1)[0]
    for e in _litellm().custom_provider_map:
        if e["provider"] == name:
            return getattr(e["custom_handler"], "score", None)
    return None


def _texts_of(model: str, resp) -> tuple[list[str], str | None]:
    """Every choice's text (several when ``n`` was asked) and the first one's finish reason."""
    texts = [c.message.content for c in resp.choices if c.message.content is not None]
    if not texts:
        raise LLMError(f"model {model} returned no text", model=model)
    return texts, getattr(resp.choices[0], "finish_reason", None)
