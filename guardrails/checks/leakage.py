"""Leakage: the output must not reproduce a long span of the system prompt.

The prompt may hold instructions, policies and examples the user must not see. A
candidate fails when it shares a run of ``min_words`` consecutive words with the
system prompt that is not also in the sources (a reply may legitimately repeat the
user's own history, which prompts include as examples).
"""

from __future__ import annotations

import re

from guardrails.normalize import clean
from guardrails.types import CheckContext, Finding


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", clean(text).lower())


def _grams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


class LeakageCheck:
    name = "leakage"

    def __init__(self, min_words: int = 8) -> None:
        self.min_words = min_words

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if not ctx.system_prompt:
            return Finding.ok()
        n = self.min_words

        def secret_grams():
            sources = _grams(_words(" \n".join(ctx.source_texts)), n)
            return _grams(_words(ctx.system_prompt or ""), n) - sources

        leaked = _grams(_words(text), n) & ctx.memo("leakage.grams", secret_grams)
        if not leaked:
            return Finding.ok()
        return Finding.fail(f"reproduces {n}+ consecutive words of the system prompt")
