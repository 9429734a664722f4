"""A guardrail result as one plain row per check (the API's ``checks`` list converts it)."""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.types import GuardrailResult


@dataclass(frozen=True)
class CheckReport:
    name: str
    passed: bool
    action: str | None = None  # block, repair or flag; set when the check did not pass
    reason: str | None = None


def check_reports(result: GuardrailResult) -> list[CheckReport]:
    """One ``CheckReport`` per verdict, in pipeline order.

    ``action`` and ``reason`` are set only for checks that did not pass (the action the
    pipeline took: repair or flag on a served suggestion), or that errored.
    """
    out = []
    for v in result.verdicts:
        failed = not v.passed
        out.append(CheckReport(name=v.name, passed=v.passed,
                               action=v.action if failed else None,
                               reason=v.reason if failed or v.error else None))
    return out
