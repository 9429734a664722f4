"""Runs every candidate through the guardrails and keeps what may be served.

Claims (numbers, prices, percentages, dates, deadlines, "free") must be in the
campaign body, so only the body and brand are grounding sources — never the
recipient's history: a past subject's "50% off" says nothing about this campaign.
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


@dataclass
class GuardOutcome:
    kept: list[Candidate]
    blocked: int


def guard(candidates: list[Candidate], *, body: str, brand: str | None, limits: Limits,
          metrics: Metrics | None, tenant: str, stop_at: float | None = None) -> GuardOutcome:
    """Constraint-enforce then guardrail-check each candidate; repaired texts are
    re-enforced (a repair must not break a hard limit). At ``stop_at`` (monotonic)
    checking stops: the candidates not checked yet are dropped, never served unchecked."""
    from guardrails import CheckContext, check

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
        result = check(text, context=ctx)
        if metrics is not None:
            for v in result.verdicts:
                metrics.guardrail.labels(tenant=tenant, check=v.name, verdict=v.label).inc()
        c.checks = [CheckResult(name=v.name, passed=v.passed,
                                action=None if v.passed else v.action, reason=v.reason)
                    for v in result.verdicts]
        final = None if result.blocked else enforce(result.text, limits)
        if final is None:
            blocked += 1
            c.dropped_by = next((v.name for v in result.verdicts
                                 if not v.passed and v.action == "block"), "limits")
            continue
        c.text = final
        kept.append(c)
    return GuardOutcome(kept=kept, blocked=blocked)
