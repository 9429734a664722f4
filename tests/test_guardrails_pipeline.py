"""Pipeline behaviour: actions, fail-open / fail-closed, hooks, API helpers."""

from __future__ import annotations

import pytest

from gateway.metrics import Metrics
from gateway.schemas.common import CheckResult
from guardrails import (
    CheckContext,
    Finding,
    GuardrailResult,
    Pipeline,
    Rule,
    Verdict,
    check,
    check_reports,
    metrics_hook,
)

MEETING = "Can we move our Thursday meeting to Friday at 3pm?"


class Fixed:
    """A scripted check: fails with a given repair, or raises."""

    def __init__(self, name, *, passed=False, repaired=None, raises=False):
        self.name, self.passed, self.repaired, self.raises = name, passed, repaired, raises
        self.seen: list[str] = []

    def run(self, text, ctx):
        self.seen.append(text)
        if self.raises:
            raise RuntimeError("boom")
        return Finding(self.passed, None if self.passed else f"{self.name} said no", self.repaired)


CTX = CheckContext(sources=(MEETING,))


def test_block_drops_the_candidate():
    result = Pipeline([Rule(Fixed("a"), "block")]).run("text", CTX)
    assert result.blocked and result.verdicts == [Verdict("a", False, "block", "a said no")]


def test_repair_replaces_text_and_later_checks_see_it():
    later = Fixed("b", passed=True)
    result = Pipeline([Rule(Fixed("a", repaired="fixed"), "repair"), Rule(later)]).run("raw", CTX)
    assert not result.blocked and result.text == "fixed" and result.original == "raw"
    assert later.seen == ["fixed"] and result.repaired


def test_repair_without_a_repaired_text_blocks():
    result = Pipeline([Rule(Fixed("a"), "repair")]).run("raw", CTX)
    assert result.blocked and result.verdicts[0].action == "block"
    assert "no repair possible" in result.verdicts[0].reason


def test_flag_serves_and_reports():
    result = Pipeline([Rule(Fixed("a"), "flag")]).run("raw", CTX)
    assert not result.blocked and result.text == "raw"
    assert [v.name for v in result.flags] == ["a"]


def test_all_checks_run_even_after_a_block():
    second = Fixed("b", passed=True)
    result = Pipeline([Rule(Fixed("a"), "block"), Rule(second)]).run("raw", CTX)
    assert result.blocked and second.seen == ["raw"] and len(result.verdicts) == 2


def test_raising_check_fails_closed_or_open_by_rule():
    closed = Pipeline([Rule(Fixed("a", raises=True), "flag", fail_closed=True)]).run("t", CTX)
    assert closed.blocked and closed.verdicts[0].error and closed.verdicts[0].label == "error"
    opened = Pipeline([Rule(Fixed("a", raises=True), "block", fail_closed=False)]).run("t", CTX)
    assert not opened.blocked and opened.verdicts[0].passed and opened.verdicts[0].error
    assert "failing open" in opened.verdicts[0].reason


def test_shipped_check_that_raises_follows_its_policy(monkeypatch):
    from guardrails.checks import grounding, language

    def boom(*a, **k):
        raise ValueError("broken")

    monkeypatch.setattr(grounding, "extract", boom)  # grounding fails closed
    monkeypatch.setattr(language, "detect", boom)  # language fails open
    result = check("Friday at 3pm works.", sources=[MEETING])
    assert result.blocked
    assert result.verdict("grounding").error and not result.verdict("grounding").passed
    assert result.verdict("language").error and result.verdict("language").passed


def test_hook_sees_every_verdict_and_its_failure_never_fails_the_request():
    seen = []
    result = check("Friday at 3pm works.", sources=[MEETING],
                   on_verdict=lambda name, v: seen.append((name, v.label)))
    assert [n for n, _ in seen] == [v.name for v in result.verdicts]

    def broken(name, verdict):
        raise RuntimeError("metrics down")

    assert not check("Friday at 3pm works.", sources=[MEETING], on_verdict=broken).blocked


def test_metrics_hook_counts_by_tenant_check_verdict():
    metrics = Metrics()
    check("Saturday at 3pm works.", sources=[MEETING], on_verdict=metrics_hook(metrics, "acme"))
    value = metrics.registry.get_sample_value(
        "persona_guardrail_verdicts_total", {"tenant": "acme", "check": "grounding",
                                              "verdict": "block"})
    assert value == 1.0


def test_check_api_defaults_and_policy_overrides():
    r = check("Friday at 3pm works. Call me at 415-555-0100.", sources=[MEETING])
    assert r.blocked and {"pii", "grounding"} <= {v.name for v in r.failed}
    r2 = check("Friday at 3pm works. Call me at 415-555-0100.", sources=[MEETING],
               policy={"pii": "repair", "grounding": "flag"})
    assert not r2.blocked and r2.text == "Friday at 3pm works. Call me at [phone]."
    r3 = check("Friday at 3pm works.", sources=[MEETING], policy={"language": "off"})
    assert "language" not in [v.name for v in r3.verdicts]
    with pytest.raises(ValueError, match="no check named"):
        check("x", sources=[], policy={"nope": "flag"})
    with pytest.raises(ValueError, match="not one of"):
        Rule(Fixed("a"), "explode")  # type: ignore[arg-type]


def test_task_policies_differ():
    reply = Pipeline.default("smart_reply").names
    subject = Pipeline.default("subject_line").names
    assert "spam" in subject and "shouting" in subject and "spam" not in reply
    assert {"grounding", "injection", "pii", "profanity", "banned_words", "length"} <= set(reply)
    with pytest.raises(ValueError, match="unknown task"):
        Pipeline.default("poetry")


def test_check_reports_convert_to_the_api_schema():
    r = check("Here is a reply: Friday at 3pm works, Dave.", sources=[MEETING])
    results = [CheckResult.from_report(c) for c in check_reports(r)]
    by = {c.name: c for c in results}
    assert by["boilerplate"].passed is False and by["boilerplate"].action == "repair"
    assert by["name_grounding"].action == "flag" and "Dave" in by["name_grounding"].reason
    assert by["grounding"].passed and by["grounding"].action is None
    assert r.text == "Friday at 3pm works, Dave." and not r.blocked


def test_context_memo_builds_source_entities_once():
    ctx = CheckContext(sources=(MEETING,))
    pipe = Pipeline.default("smart_reply")
    results = [pipe.run(t, ctx) for t in ("Friday at 3pm.", "Saturday at 3pm.")]
    assert [r.blocked for r in results] == [False, True]
    assert "grounding.keys" in ctx._memo
    assert isinstance(results[0], GuardrailResult)


def test_warm_up_loads_lazy_resources_once():
    from guardrails import warm_up
    from guardrails.checks.profanity import blocked_words

    blocked_words.cache_clear()
    warm_up()
    assert blocked_words.cache_info().currsize == 1
    warm_up()  # idempotent
    assert "shit" in blocked_words() and "kill" not in blocked_words()
