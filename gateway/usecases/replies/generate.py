"""Over-generate reply candidates with the model, within a deadline.

Measured on the embedded 135M model (docs/smart-replies.md): asking for a
numbered list in one call gives one rambling reply, not a list, so candidates
come from several short samples of the same prompt at rising temperatures. The
prompt is identical across samples, so llama.cpp reuses the whole prefill and
each extra sample costs only its own ~15 generated tokens. Samples run one after
another (one model slot) until the count is reached or the time left would not
fit another; whatever arrived in time is kept.

A hosted model is not one slot: when its provider takes ``n``, all candidates come
from one request (one prompt billed, one round trip); otherwise the samples run at
once, each bounded by the deadline (docs/hosted-models.md).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from gateway.core.errors import LLMError, LLMOverloaded, LLMTimeout
from gateway.llm import LLMClient

TEMPERATURES = (0.3, 0.8, 1.0, 1.1, 1.2, 0.6)
N_TEMPERATURE = 0.8  # one request for n candidates has one temperature
STOP = ["\n", "<<<", "###", "<|im_end|>"]
CUT_OFF_S = 0.01


@dataclass
class Sampled:
    texts: list[tuple[str, float]] = field(default_factory=list)  # (raw text, temperature)
    model: str | None = None
    # "timeout", "overloaded" or "llm_error" when the first sample failed
    error: str | None = None
    calls: int = 0


async def sample(llm: LLMClient, messages: list[dict], *, samples: int, deadline: float,
                 max_tokens: int = 24, min_call_s: float = 0.05,
                 models: tuple[str, ...] | None = None) -> Sampled:
    """Up to ``samples`` completions, each finished before ``deadline`` (monotonic):
    one request with ``n`` for a hosted model that supports it, parallel requests for
    another hosted model, one sample after another for the in-process model.
    ``models``: the chain to call instead of the client's (an experiment variant's)."""
    primary = llm.first(models)
    if samples > 1 and llm.supports_n(primary):
        return await _in_one_call(llm, messages, samples=samples, deadline=deadline,
                                  max_tokens=max_tokens, models=models)
    if samples > 1 and not llm.in_process(primary):
        return await _in_parallel(llm, messages, samples=samples, deadline=deadline,
                                  max_tokens=max_tokens, models=models)
    return await _in_turn(llm, messages, samples=samples, deadline=deadline,
                          max_tokens=max_tokens, min_call_s=min_call_s, models=models)


def _failure(exc: LLMError, deadline: float) -> str:
    if isinstance(exc, LLMOverloaded):
        return "overloaded"
    if isinstance(exc, LLMTimeout):
        return "timeout"
    # a failure at the deadline (e.g. "model busy") is a timeout
    return "timeout" if time.monotonic() >= deadline - CUT_OFF_S else "llm_error"


async def _in_one_call(llm: LLMClient, messages: list[dict], *, samples: int,
                       deadline: float, max_tokens: int,
                       models: tuple[str, ...] | None) -> Sampled:
    out = Sampled(calls=1)
    try:
        c = await llm.complete(messages, max_tokens=max_tokens, temperature=N_TEMPERATURE,
                               stop=STOP, seed=1000, deadline=deadline, n=samples,
                               models=models)
    except LLMError as exc:
        out.error = _failure(exc, deadline)
        return out
    out.model = c.model
    out.texts = [(t, N_TEMPERATURE) for t in (c.texts or (c.text,))[:samples]]
    return out


async def _in_parallel(llm: LLMClient, messages: list[dict], *, samples: int,
                       deadline: float, max_tokens: int,
                       models: tuple[str, ...] | None) -> Sampled:
    temps = [TEMPERATURES[i % len(TEMPERATURES)] for i in range(samples)]
    got = await asyncio.gather(*(
        llm.complete(messages, max_tokens=max_tokens, temperature=t, stop=STOP,
                     seed=1000 + i, deadline=deadline, models=models)
        for i, t in enumerate(temps)),
        return_exceptions=True)
    out = Sampled(calls=samples)
    for c, t in zip(got, temps, strict=True):
        if isinstance(c, LLMError):
            continue
        if isinstance(c, BaseException):
            raise c
        out.model = out.model or c.model
        out.texts.append((c.text, t))
    if not out.texts:
        out.error = _failure(next(c for c in got if isinstance(c, LLMError)), deadline)
    return out


async def _in_turn(llm: LLMClient, messages: list[dict], *, samples: int, deadline: float,
                   max_tokens: int, min_call_s: float,
                   models: tuple[str, ...] | None) -> Sampled:
    """After the first sample, another starts only if the time left fits one more at the
    pace of the previous one: a sample cut off by the deadline is a half sentence."""
    out = Sampled()
    last = 0.0
    for i in range(samples):
        left = deadline - time.monotonic()
        if i > 0 and left < max(min_call_s, last):
            break
        t0 = time.monotonic()
        temp = TEMPERATURES[i % len(TEMPERATURES)]
        out.calls += 1
        try:
            c = await llm.complete(messages, max_tokens=max_tokens, temperature=temp,
                                   stop=STOP, seed=1000 + i, deadline=deadline,
                                   models=models)
        except LLMError as exc:
            if not out.texts:
                out.error = _failure(exc, deadline)
            break
        last = time.monotonic() - t0
        out.model = c.model
        out.texts.append((c.text, temp))
    return out
