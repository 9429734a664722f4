"""Over-generate reply candidates with the model, within a deadline.

Measured on the embedded 135M model (docs/smart-replies.md): asking for a
numbered list in one call gives one rambling reply, not a list, so candidates
come from several short samples of the same prompt at rising temperatures. The
prompt is identical across samples, so llama.cpp reuses the whole prefill and
each extra sample costs only its own ~15 generated tokens. Samples run one after
another (one model slot) until the count is reached or the time left would not
fit another; whatever arrived in time is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gateway.errors import LLMError, LLMOverloaded, LLMTimeout
from gateway.llm import LLMClient

TEMPERATURES = (0.3, 0.8, 1.0, 1.1, 1.2, 0.6)
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
    """Up to ``samples`` completions, each finished before ``deadline`` (monotonic).

    After the first sample, another starts only if the time left fits one more at the
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
        except LLMOverloaded:
            out.error = out.error or ("overloaded" if not out.texts else None)
            break
        except LLMTimeout:
            out.error = out.error or ("timeout" if not out.texts else None)
            break
        except LLMError:
            if not out.texts:  # a failure at the deadline (e.g. "model busy") is a timeout
                late = time.monotonic() >= deadline - CUT_OFF_S
                out.error = "timeout" if late else "llm_error"
            break
        last = time.monotonic() - t0
        out.model = c.model
        out.texts.append((c.text, temp))
    return out
