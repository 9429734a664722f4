"""Run red-team cases (JSONL written for this project, in ``tests/redteam/``).

A case is either an output case — a candidate ``text`` checked against ``sources`` /
``untrusted`` / context fields under the task's shipped policy (plus optional
``policy`` overrides) — or a ``scan`` case: an incoming email given to
``scan_input``. ``expect`` says what must happen:

* ``{"blocked": true}`` — an attack: the pipeline must drop the candidate;
* ``{"blocked": false}`` — a true negative; optional ``"passed": [names]`` lists
  checks that must pass, ``"failed": [names]`` checks that must fail (e.g. a flag),
  ``"text_lacks": [...]`` substrings a repaired text must not contain,
  ``"text": "..."`` the exact repaired text;
* ``{"suspicious": true|false}`` — for ``scan`` cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from guardrails.injection import scan_input
from guardrails.pipeline import Pipeline
from guardrails.types import CheckContext

_CTX_FIELDS = ("max_chars", "banned_words", "emoji_allowed", "language", "system_prompt")


def load_cases(directory: Path) -> Iterator[dict]:
    for path in sorted(Path(directory).glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    case = json.loads(line)
                    case.setdefault("id", f"{path.stem}:{n}")
                    yield case


def context_of(case: dict) -> CheckContext:
    fields = {k: case[k] for k in _CTX_FIELDS if k in case}
    return CheckContext(task=case.get("task", "smart_reply"), sources=tuple(case.get("sources", ())),
                        untrusted=tuple(case.get("untrusted", ())), **fields)


def run_case(case: dict) -> bool:
    """True when the guardrails did what the case expects."""
    expect = case["expect"]
    if case.get("mode") == "scan":
        return scan_input(case["input"]).suspicious == expect["suspicious"]
    ctx = context_of(case)
    result = Pipeline.default(ctx.task, overrides=case.get("policy")).run(case["text"], ctx)
    if result.blocked != expect["blocked"]:
        return False
    by_name = {v.name: v for v in result.verdicts}
    if any(not by_name[n].passed for n in expect.get("passed", ())):
        return False
    if any(by_name[n].passed for n in expect.get("failed", ())):
        return False
    if any(s in result.text for s in expect.get("text_lacks", ())):
        return False
    return "text" not in expect or result.text == expect["text"]
