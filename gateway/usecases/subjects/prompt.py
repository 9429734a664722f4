"""The subject-line prompt: a short excerpt of the body, the recipient's examples.

The embedded model prefills ~400 tokens/s on two shared cores, so the excerpt is
cut hard and examples are few; ``render_chat`` drops the least similar examples
first to fit the token budget.
"""

from __future__ import annotations

from gateway.schemas.subject_lines import SubjectLineRequest
from gateway.usecases.subjects.candidates import Signals
from gateway.usecases.subjects.style import StyleProfile
from guardrails.subject_phrases import clean_body
from prompts.render import RenderedPrompt, TokenCounter, default_library

PROMPT_TASK = "subject_line"
BODY_WORDS = 90
EXAMPLE_BODY_WORDS = 25
MAX_EXAMPLES = 4


def excerpt(text: str, words: int) -> str:
    parts = clean_body(text).split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def examples_of(signals: Signals) -> list[dict]:
    """Most similar first: the author's own emails (with their subjects), then opened."""
    out = [{"subject": p.subject, "body": excerpt(p.body, EXAMPLE_BODY_WORDS) if p.body else None}
           for p in sorted(signals.sent, key=lambda p: -p.similarity)]
    out += [{"subject": p.subject, "body": None}
            for p in sorted(signals.opened, key=lambda p: -p.similarity)]
    return out[:MAX_EXAMPLES]


def build_prompt(request: SubjectLineRequest, signals: Signals, profile: StyleProfile, *,
                 budget_tokens: int, count_tokens: TokenCounter) -> RenderedPrompt:
    lib = default_library()
    camp = request.campaign
    return lib.render_chat(
        lib.latest(PROMPT_TASK), examples=examples_of(signals), budget_tokens=budget_tokens,
        count_tokens=count_tokens, campaign=excerpt(camp.body, BODY_WORDS), brand=camp.brand,
        tone=camp.tone, n=min(request.n, 5), max_chars=request.max_chars, emoji=request.emoji,
        banned_words=request.banned_words, style=profile.describe() if profile.n else "")
