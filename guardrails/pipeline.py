"""Run a configured list of checks on a candidate and apply each one's action.

Actions: ``block`` drops the candidate, ``repair`` replaces it with the check's
repaired text (and blocks when the check could not repair), ``flag`` serves it and
reports. Checks run in order and later checks see earlier repairs, so repairs that
only remove text (boilerplate, emoji) come first. Every check runs even after a block,
so per-check counters stay comparable.

A check that raises never fails the request: its rule's ``fail_closed`` decides —
closed blocks the candidate (for checks that guard safety), open lets it through and
marks the verdict ``error`` (for quality checks). The ``on_verdict`` hook is called
for every verdict and may not fail the request either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from guardrails.checks.banned_words import BannedWordsCheck
from guardrails.checks.boilerplate import BoilerplateCheck
from guardrails.checks.emoji import EmojiCheck
from guardrails.checks.grounding import GroundingCheck
from guardrails.checks.injection import InjectionCheck
from guardrails.checks.injection_echo import InjectionEchoCheck
from guardrails.checks.language import LanguageCheck
from guardrails.checks.leakage import LeakageCheck
from guardrails.checks.length import LengthCheck
from guardrails.checks.name_grounding import NameGroundingCheck
from guardrails.checks.pii import PiiCheck
from guardrails.checks.profanity import ProfanityCheck
from guardrails.checks.salutation import SalutationCheck
from guardrails.checks.shouting import ShoutingCheck
from guardrails.checks.spam import SpamCheck
from guardrails.checks.untrusted_echo import UntrustedEchoCheck
from guardrails.types import ACTIONS, Action, Check, CheckContext, GuardrailResult, Verdict

log = logging.getLogger(__name__)

VerdictHook = Callable[[str, Verdict], None]


@dataclass(frozen=True)
class Rule:
    """A check with what to do when it fails and when it raises."""

    check: Check
    action: Action = "block"
    fail_closed: bool = True

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action {self.action!r} for check {self.check.name!r} is not one of "
                             f"{', '.join(ACTIONS)}")

    @property
    def name(self) -> str:
        return self.check.name


# (check factory, smart_reply action, subject_line action, fail_closed); None = not run.
_DEFAULTS: list[tuple[Callable[[], Check], Action | None, Action | None, bool]] = [
    (BoilerplateCheck, "repair", "repair", False),
    (EmojiCheck, "repair", "repair", False),
    (ShoutingCheck, None, "repair", False),
    (LengthCheck, "repair", "block", True),
    (InjectionCheck, "block", "block", True),
    (InjectionEchoCheck, "block", "block", True),
    (UntrustedEchoCheck, "flag", "flag", False),
    (PiiCheck, "block", "block", True),
    (LeakageCheck, "block", "block", True),
    (GroundingCheck, "block", "block", True),
    (SalutationCheck, "block", "block", False),
    (NameGroundingCheck, "flag", "flag", False),
    (ProfanityCheck, "block", "block", True),
    (BannedWordsCheck, "block", "block", True),
    (SpamCheck, None, "block", True),
    (LanguageCheck, "block", "block", False),
]

Override = str | Rule | Mapping[str, object]


def default_rules(task: str) -> list[Rule]:
    """The shipped policy for ``task`` (``smart_reply`` or ``subject_line``)."""
    if task not in ("smart_reply", "subject_line"):
        raise ValueError(f"unknown task {task!r}; use 'smart_reply' or 'subject_line'")
    rules = []
    for factory, reply_action, subject_action, fail_closed in _DEFAULTS:
        action = reply_action if task == "smart_reply" else subject_action
        if action is not None:
            rules.append(Rule(factory(), action, fail_closed))
    return rules


def _apply_override(rule: Rule, value: Override) -> Rule | None:
    if isinstance(value, Rule):
        return value
    if isinstance(value, str):
        return None if value == "off" else replace(rule, action=value)  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        action = value.get("action", rule.action)
        if action == "off":
            return None
        fail = value.get("fail", "closed" if rule.fail_closed else "open")
        if fail not in ("open", "closed"):
            raise ValueError(f"fail policy {fail!r} for {rule.name!r}; use 'open' or 'closed'")
        return replace(rule, action=action, fail_closed=fail == "closed")  # type: ignore[arg-type]
    raise TypeError(f"override for {rule.name!r} must be an action, 'off', a Rule or a mapping")


class Pipeline:
    """An ordered list of rules plus an optional verdict hook."""

    def __init__(self, rules: Iterable[Rule], *, on_verdict: VerdictHook | None = None) -> None:
        self.rules: list[Rule] = list(rules)
        self.on_verdict = on_verdict

    @classmethod
    def default(cls, task: str = "smart_reply", *, overrides: Mapping[str, Override] | None = None,
                on_verdict: VerdictHook | None = None) -> Pipeline:
        """The shipped policy for ``task``; ``overrides`` maps a check name to an action,
        ``"off"``, a :class:`Rule`, or ``{"action": ..., "fail": "open"|"closed"}``."""
        rules = default_rules(task)
        overrides = dict(overrides or {})
        unknown = set(overrides) - {r.name for r in rules}
        if unknown:
            raise ValueError(f"no check named {', '.join(sorted(unknown))} in the {task} policy; "
                             f"known: {', '.join(r.name for r in rules)}")
        out = []
        for rule in rules:
            new = _apply_override(rule, overrides[rule.name]) if rule.name in overrides else rule
            if new is not None:
                out.append(new)
        return cls(out, on_verdict=on_verdict)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    def with_hook(self, on_verdict: VerdictHook | None) -> Pipeline:
        return Pipeline(self.rules, on_verdict=on_verdict)

    def run(self, text: str, context: CheckContext) -> GuardrailResult:
        current = text or ""
        blocked = False
        verdicts: list[Verdict] = []
        for rule in self.rules:
            verdict, repaired = self._run_rule(rule, current, context)
            if repaired is not None:
                current = repaired
            blocked = blocked or (not verdict.passed and verdict.action == "block")
            verdicts.append(verdict)
            self._notify(verdict)
        return GuardrailResult(text=current, original=text or "", blocked=blocked,
                               verdicts=verdicts)

    @staticmethod
    def _run_rule(rule: Rule, text: str, ctx: CheckContext) -> tuple[Verdict, str | None]:
        try:
            finding = rule.check.run(text, ctx)
        except Exception as exc:  # a broken check must not fail the request
            log.exception("guardrail check %s raised", rule.name)
            why = f"check raised {type(exc).__name__}"
            if rule.fail_closed:
                return Verdict(rule.name, False, "block", f"{why}; failing closed", error=True), None
            return Verdict(rule.name, True, rule.action, f"{why}; failing open", error=True), None
        if finding.passed:
            return Verdict(rule.name, True, rule.action), None
        if rule.action == "repair":
            fixed = finding.repaired
            if fixed is not None and fixed.strip() and fixed != text:
                return Verdict(rule.name, False, "repair", finding.reason), fixed
            return Verdict(rule.name, False, "block",
                           f"{finding.reason} (no repair possible)"), None
        return Verdict(rule.name, False, rule.action, finding.reason), None

    def _notify(self, verdict: Verdict) -> None:
        if self.on_verdict is None:
            return
        try:
            self.on_verdict(verdict.name, verdict)
        except Exception:  # metrics must never fail a request
            log.warning("on_verdict hook failed for %s", verdict.name, exc_info=True)


def metrics_hook(metrics, tenant: str | int) -> VerdictHook:
    """An ``on_verdict`` hook counting into ``services.metrics.guardrail``."""

    def hook(check_name: str, verdict: Verdict) -> None:
        metrics.guardrail.labels(tenant=str(tenant), check=check_name, verdict=verdict.label).inc()

    return hook
