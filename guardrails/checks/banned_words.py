"""Banned words from the request: case-insensitive, whole words (or phrases) only."""

from __future__ import annotations

import re

from guardrails.normalize import clean
from guardrails.types import CheckContext, Finding


def banned_pattern(word: str) -> re.Pattern:
    parts = [re.escape(p) for p in word.strip().split()]
    return re.compile(r"(?<![\w])" + r"\s+".join(parts) + r"(?![\w])", re.IGNORECASE)


def any_banned_pattern(words) -> re.Pattern:
    """One pattern for the whole list: a candidate that passes costs one search."""
    parts = sorted((r"\s+".join(re.escape(p) for p in w.strip().split()) for w in words),
                   key=len, reverse=True)
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])", re.IGNORECASE)


class BannedWordsCheck:
    name = "banned_words"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        words = [w for w in ctx.banned_words if w and w.strip()]
        if not words:
            return Finding.ok()
        body = clean(text)
        # Built once per request context, not once per word per candidate.
        if not ctx.memo("banned_words_any", lambda: any_banned_pattern(words)).search(body):
            return Finding.ok()
        hits = [w for w in words if banned_pattern(w).search(body)]
        if not hits:
            return Finding.ok()
        return Finding.fail("banned word(s): " + ", ".join(repr(w) for w in hits))
