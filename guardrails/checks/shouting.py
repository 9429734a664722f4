"""ALL CAPS in subject lines: shouting hurts opens and trips spam filters.

A subject line fails when most of its letters are capitals, or when it has a capital
word of 4+ letters that the campaign does not itself write in capitals (brand names
and acronyms like "NASA" or "SALE" copied from the body are kept). The repair turns
shouted words into Capitalized words.
"""

from __future__ import annotations

import re

from guardrails.types import CheckContext, Finding

_WORD_RE = re.compile(r"\b[A-Z][A-Z'’]{3,}\b")


def _shouted(text: str, allowed: set[str]) -> list[str]:
    return [w for w in _WORD_RE.findall(text) if w not in allowed]


class ShoutingCheck:
    name = "shouting"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if ctx.task != "subject_line":
            return Finding.ok()
        allowed = ctx.memo("shouting.allowed", lambda: {
            w for s in ctx.source_texts for w in _WORD_RE.findall(s)})
        letters = [c for c in text if c.isalpha()]
        upper_ratio = sum(c.isupper() for c in letters) / len(letters) if len(letters) >= 8 else 0
        words = _shouted(text, allowed)
        if upper_ratio <= 0.6 and not words:
            return Finding.ok()
        repaired = re.sub(r"\b[A-Z][A-Z'’]+\b",
                          lambda m: m.group() if m.group() in allowed or len(m.group()) <= 3
                          else m.group().capitalize(), text)
        return Finding.fail("ALL CAPS " + (", ".join(words) if words else "text"),
                            repaired=repaired)
