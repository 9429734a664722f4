"""The smart-reply prompt: a few-shot chat transcript rendered from a template.

``PromptLibrary.render_chat`` yields a system message and one user text; the
smart-reply template writes a whole transcript into that text with ``### USER`` /
``### ASSISTANT`` markers, split here into chat turns, because the tiny local
model imitates example turns far better than it follows instructions. The
user's own past exchanges become turns too (most similar first, dropped from
the end to fit the token budget), so the model writes in their voice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.usecases.replies.rules import Pair
from prompts.render import PromptLibrary, default_library, one_line, split_turns

TASK = "smart_reply"


@dataclass(frozen=True)
class Example:
    id: str
    context: str
    reply: str


@dataclass(frozen=True)
class ReplyPrompt:
    messages: list[dict]
    version: str
    tokens: int
    example_ids: list[str]


def message_text(subject: str, body: str, *, max_chars: int = 600) -> str:
    """What the model sees of the email: subject line and the start of the body."""
    body = one_line(body, max_chars)
    subject = one_line(subject, 120)
    return f"Subject: {subject}\n{body}" if subject else body


def build_prompt(
    *, subject: str, body: str, pairs: Sequence[Pair], budget_tokens: int,
    count_tokens: Callable[[str], int], library: PromptLibrary | None = None,
    max_examples: int = 3, max_body_chars: int = 600, example_tokens: int | None = None,
) -> ReplyPrompt:
    """``example_tokens``: at most this many tokens of the user's exchanges on top of the
    prompt without them (an in-process model pays for every token in prefill time); an
    exchange that does not fit is skipped, the shorter ones after it still go in."""
    lib = library or default_library()
    version = lib.latest(TASK)
    examples = [Example(p.id, one_line(p.context, 300), one_line(p.reply, 200))
                for p in pairs[:max_examples] if p.context and p.reply]
    message = message_text(subject, body, max_chars=max_body_chars)
    if example_tokens is not None and examples:
        examples = _fitting(lib, version, examples, message, count_tokens, example_tokens)
    rendered = lib.render_chat(version, examples=examples, budget_tokens=budget_tokens,
                               count_tokens=count_tokens, message=message)
    kept = examples[: rendered.examples_used]
    stable = sorted(kept, key=lambda e: e.id)
    if stable != kept:
        # The most similar examples were chosen; now put them in a fixed order, so the
        # same examples give the same token prefix and llama.cpp reuses its prefill
        # (about 250 tokens/s on 2 cores: a changed prefix costs most of the budget).
        rendered = lib.render_chat(version, examples=stable, budget_tokens=10**9,
                                   count_tokens=count_tokens, message=message)
    return ReplyPrompt(messages=split_turns(rendered.messages), version=version,
                       tokens=rendered.tokens, example_ids=[e.id for e in stable])


def _fitting(lib: PromptLibrary, version: str, examples: list[Example], message: str,
             count_tokens: Callable[[str], int], extra: int) -> list[Example]:
    """The ``examples``, in order, that fit in ``extra`` tokens beyond the prompt without
    any."""
    def size(kept: list[Example]) -> int:
        return count_tokens(lib.render(version, examples=kept, message=message))

    limit = size([]) + extra
    kept: list[Example] = []
    for ex in examples:
        if size([*kept, ex]) <= limit:
            kept.append(ex)
    return kept


def warm_up_messages(count_tokens: Callable[[str], int]) -> list[dict]:
    """A prompt with no user examples: generating from it at start prefills the fixed
    instructions and shots, which every request then reuses from llama.cpp's cache
    (measured: the first request otherwise spends ~3.5 s prefilling them)."""
    return build_prompt(subject="", body="Are you free on Friday?", pairs=[],
                        budget_tokens=10**9, count_tokens=count_tokens).messages
