"""Guardrails: every generated text is checked before anyone sees it.

Usable without HTTP::

    from guardrails import check, CheckContext
    result = check("Friday at 3pm works.", sources=["Can we meet Friday at 3pm?"])
    result.blocked, result.text, result.verdicts

``check`` runs the shipped policy for the context's task (``smart_reply`` or
``subject_line``); pass ``policy=`` to change actions (``{"pii": "repair"}``), turn a
check off (``{"language": "off"}``) or supply a whole :class:`Pipeline`. Use
``scan_input`` / ``sanitize`` on incoming mail before it reaches a prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from guardrails.injection import InjectionReport, sanitize, scan_input
from guardrails.pipeline import Override, Pipeline, Rule, VerdictHook, default_rules, metrics_hook
from guardrails.report import CheckReport, check_reports
from guardrails.types import Check, CheckContext, Finding, GuardrailResult, Verdict


def check(text: str, *, context: CheckContext | None = None, sources: Sequence[str] | None = None,
          policy: Pipeline | Mapping[str, Override] | str | None = None,
          on_verdict: VerdictHook | None = None, **fields) -> GuardrailResult:
    """Check one candidate text.

    Either pass a ready ``context`` or build one from ``sources`` and any other
    :class:`CheckContext` field (``task=``, ``untrusted=``, ``max_chars=``, ...).
    ``policy`` is a :class:`Pipeline`, a task name, or per-check overrides applied to
    the default policy of the context's task.
    """
    if context is None:
        context = CheckContext(sources=tuple(sources or ()), **fields)
    elif sources is not None or fields:
        raise TypeError("pass either context= or sources=/fields, not both")
    if isinstance(policy, Pipeline):
        pipeline = policy.with_hook(on_verdict) if on_verdict else policy
    elif isinstance(policy, str):
        pipeline = Pipeline.default(policy, on_verdict=on_verdict)
    else:
        pipeline = Pipeline.default(context.task, overrides=policy, on_verdict=on_verdict)
    return pipeline.run(text, context)


def warm_up() -> None:
    """Load the profanity list and langdetect's profiles now (~1 s), so the first request
    does not pay for them inside its deadline. Safe to call more than once."""
    from guardrails.checks.language import detect
    from guardrails.checks.profanity import blocked_words

    blocked_words()
    detect("Bonjour, vendredi à quinze heures me convient très bien pour la réunion.",
           min_chars=1, min_prob=0.0)


__all__ = [
    "Check",
    "CheckContext",
    "CheckReport",
    "Finding",
    "GuardrailResult",
    "InjectionReport",
    "Pipeline",
    "Rule",
    "Verdict",
    "check",
    "check_reports",
    "default_rules",
    "metrics_hook",
    "sanitize",
    "scan_input",
    "warm_up",
]
