"""The subject-line prompt: a few-shot transcript ending in this campaign.

The embedded model prefills ~250-400 tokens/s on two cores, so the fixed part
(instructions and generic shots) comes first and is reused from llama.cpp's
cache, the excerpts are cut hard, and the model answers one line (a dozen
tokens) instead of a list. ``render_chat`` drops the least similar examples
first to fit the token budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.schemas.subject_lines import SubjectLineRequest
from gateway.usecases.subjects.candidates import Signals
from gateway.usecases.subjects.phrases import clean_body
from prompts.render import TokenCounter, default_library, one_line, split_turns

PROMPT_TASK = "subject_line"
BODY_WORDS = 60
EXAMPLE_BODY_WORDS = 20
MAX_EXAMPLES = 2
MAX_LIKED = 4
# One subject line: the answer is short, and its first line is all that is used.
MAX_TOKENS = 20
STOP = ["\n"]


@dataclass(frozen=True)
class SubjectPrompt:
    messages: list[dict]
    version: str
    tokens: int


def excerpt(text: str, words: int) -> str:
    parts = clean_body(text).split()
    return one_line(" ".join(parts[:words]) + (" ..." if len(parts) > words else ""), 2000)


def examples_of(signals: Signals) -> list[dict]:
    """Most similar first: the author's own emails, then opened campaigns with a body."""
    with_body = sorted(signals.sent, key=lambda p: -p.similarity) + sorted(
        (p for p in signals.opened if p.body), key=lambda p: -p.similarity)
    return [{"subject": one_line(p.subject, 120), "body": excerpt(p.body, EXAMPLE_BODY_WORDS)}
            for p in with_body if p.body][:MAX_EXAMPLES]


def liked_of(signals: Signals) -> list[str]:
    """Opened subjects without a body: listed for the model to lean towards."""
    return [one_line(p.subject, 120)
            for p in sorted(signals.opened, key=lambda p: -p.similarity) if not p.body][:MAX_LIKED]


def build_prompt(request: SubjectLineRequest, signals: Signals, *,
                 budget_tokens: int, count_tokens: TokenCounter,
                 version: str | None = None) -> SubjectPrompt:
    lib = default_library()
    version = version or lib.latest(PROMPT_TASK)
    camp = request.campaign
    rendered = lib.render_chat(
        version, examples=examples_of(signals), budget_tokens=budget_tokens,
        count_tokens=count_tokens, campaign=excerpt(camp.body, BODY_WORDS),
        liked=liked_of(signals), brand=one_line(camp.brand, 80) or None,
        tone=one_line(camp.tone, 40) or None, max_chars=request.max_chars,
        banned_words=[one_line(w, 40) for w in request.banned_words])
    return SubjectPrompt(messages=split_turns(rendered.messages), version=version,
                         tokens=rendered.tokens)
