"""Length: the candidate must fit ``max_chars``.

The repair keeps whole sentences that fit; it never cuts mid-sentence (a truncated
reply or subject line reads as a bug), so when even the first sentence is too long
there is no repair and a ``repair`` action falls back to blocking.
"""

from __future__ import annotations

from guardrails.emailtext import split_sentences
from guardrails.types import CheckContext, Finding


def fit_sentences(text: str, max_chars: int) -> str | None:
    kept = ""
    for sentence in split_sentences(text):
        trial = f"{kept} {sentence}".strip()
        if len(trial) > max_chars:
            break
        kept = trial
    return kept or None


class LengthCheck:
    name = "length"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        limit = ctx.max_chars
        if limit is None or len(text) <= limit:
            return Finding.ok()
        return Finding.fail(f"{len(text)} characters, over the limit of {limit}",
                            repaired=fit_sentences(text, limit))
