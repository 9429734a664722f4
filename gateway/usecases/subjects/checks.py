"""Runs every candidate through the guardrails and keeps what may be served.

Claims (numbers, prices, percentages, dates, deadlines, "free") and proper names
must be in the campaign body, so only the body and brand are grounding sources —
never the recipient's history: a past subject's "50% off" or "Dinner with Kay" says
nothing about this campaign. Every candidate, whatever its source, runs the same
checks; name grounding, which the shipped subject-line policy only flags, blocks
here (an author's own past subject naming a person or deal the body does not
mention was the one kind of ungrounded line served, 0.7 % of personalized lines).
The body is also passed as untrusted: a campaign pasted from elsewhere may carry
injected instructions or links, which must never be echoed into a subject.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.metrics import Metrics
from gateway.schemas.common import CheckResult
from gateway.usecases.subjects.candidates import Candidate
from gateway.usecases.subjects.constraints import Limits, enforce

# Checks whose failure means the line states something the body does not support:
# all of them block a subject line, whichever source it came from.
POLICY = {"name_grounding": "block"}


@dataclass
class GuardOutcome:
    kept: list[Candidate]
    blocked: int


def guard(candidates: list[Candidate], *, body: str, brand: str | None, limits: Limits,
          metrics: Metrics | None, tenant: str, stop_at: float | None = None) -> GuardOutcome:
    """Constraint-enforce then guardrail-check each candidate; repaired texts are
    re-enforced (a repair must not break a hard limit). At ``stop_at`` (monotonic)
    checking stops: the candidates not checked yet are dropped, never served unchecked."""
    from guardrails import CheckContext, Pipeline, check

    pipeline = Pipeline.default("subject_line", overrides=POLICY)
    ctx = CheckContext(task="subject_line", sources=[body] + ([brand] if brand else []),
                       untrusted=[body], max_chars=limits.max_chars,
                       banned_words=list(limits.banned_words), emoji_allowed=limits.emoji,
                       language=None)
    kept: list[Candidate] = []
    blocked = 0
    for c in candidates:
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        text = enforce(c.text, limits)
        if text is None:
            blocked += 1
            c.dropped_by = "limits"
            continue
        result = check(text, context=ctx, policy=pipeline)
        verdicts = list(result.verdicts)
        final = None if result.blocked else enforce(result.text, limits)
        if final is not None and final != result.text:
            # The limits re-cut a repaired line: what is served is checked as served.
            again = check(final, context=ctx, policy=pipeline)
            verdicts += [v for v in again.verdicts if not v.passed]
            final = None if again.blocked else final
        if metrics is not None:
            for v in verdicts:
                metrics.guardrail.labels(tenant=tenant, check=v.name, verdict=v.label).inc()
        c.checks = [CheckResult(name=v.name, passed=v.passed,
                                action=None if v.passed else v.action, reason=v.reason)
                    for v in verdicts]
        if final is None:
            blocked += 1
            c.dropped_by = next((v.name for v in verdicts
                                 if not v.passed and v.action == "block"), "limits")
            continue
        c.text = final
        kept.append(c)
    return GuardOutcome(kept=kept, blocked=blocked)
