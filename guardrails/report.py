"""Turn a guardrail result into the API's per-suggestion ``checks`` list."""

from __future__ import annotations

from guardrails.types import GuardrailResult


def to_check_results(result: GuardrailResult) -> list:
    """``[CheckResult(name, passed, action, reason)]`` for ``Suggestion.checks``.

    ``action`` and ``reason`` are set only for checks that did not pass (the action the
    pipeline took: repair or flag on a served suggestion), or that errored.
    """
    from gateway.schemas.common import CheckResult

    out = []
    for v in result.verdicts:
        failed = not v.passed
        out.append(CheckResult(name=v.name, passed=v.passed,
                               action=v.action if failed else None,
                               reason=v.reason if failed or v.error else None))
    return out
