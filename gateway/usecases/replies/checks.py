"""Run every candidate through the guardrails and count the verdicts.

One ``CheckContext`` per request (sources: the incoming message, thread, the
user's retrieved history and signature; untrusted: the incoming email and
thread), so the guardrails' per-context memo is built once for all candidates.

A proper name the sources lack only flags a rule candidate (people's own replies name
people the message never mentioned) but blocks a model candidate: the embedded model
invents them ("The company has a new name, KetoKo."). Both policies are built once per
call, not once per candidate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from gateway.schemas.common import CheckResult
from gateway.usecases.replies.select import Candidate

# The model's candidates: a name no source has is an invention, not the user's habit.
MODEL_OVERRIDES = {"name_grounding": "block"}


def make_context(*, sources: Sequence[str], untrusted: Sequence[str], max_chars: int,
                 emoji_allowed: bool, language: str | None):
    from guardrails import CheckContext

    return CheckContext(task="smart_reply", sources=[s for s in sources if s],
                        untrusted=[u for u in untrusted if u], max_chars=max_chars,
                        emoji_allowed=emoji_allowed, language=language)


def run_checks(cands: Sequence[Candidate], ctx, *, metrics, tenant: str,
               stop_at: float | None = None) -> list[Candidate]:
    """The candidates that pass (possibly repaired), with their check results. At
    ``stop_at`` (monotonic) checking stops: the candidates not checked yet are dropped,
    never served unchecked."""
    from guardrails import Pipeline, check_reports, metrics_hook

    if not cands:
        return []
    hook = metrics_hook(metrics, tenant)
    rules_policy = Pipeline.default(ctx.task, on_verdict=hook)
    model_policy = Pipeline.default(ctx.task, overrides=MODEL_OVERRIDES, on_verdict=hook)
    kept = []
    for c in cands:
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        result = (model_policy if c.source == "llm" else rules_policy).run(c.text, ctx)
        c.checks = [CheckResult.from_report(r) for r in check_reports(result)]
        c.flags = sum(1 for v in result.verdicts if not v.passed and v.action == "flag")
        if result.blocked or not (result.text or "").strip():
            continue
        if result.text != c.text:
            c.text = result.text
        c.passed = True
        kept.append(c)
    return kept
