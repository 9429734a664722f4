"""ALL CAPS in subject lines: shouting hurts opens and trips spam filters.

A subject line fails when it has a capital word of 4+ letters, or mostly capital
letters, that the campaign does not itself write in capitals (brand names and
acronyms like "NASA" copied from the body are kept). The repair turns shouted words
into Capitalized words.
"""

from __future__ import annotations

import re

from guardrails.types import CheckContext, Finding

_WORD_RE = re.compile(r"\b[A-Z][A-Z'’]{3,}\b")
_ANY_CAPS_RE = re.compile(r"\b[A-Z][A-Z'’]+\b")


class ShoutingCheck:
    name = "shouting"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if ctx.task != "subject_line":
            return Finding.ok()
        allowed = ctx.memo("shouting.allowed", lambda: {
            w for s in ctx.source_texts for w in _ANY_CAPS_RE.findall(s)})
        own = _ANY_CAPS_RE.sub(lambda m: " " if m.group() in allowed else m.group(), text)
        letters = [c for c in own if c.isalpha()]
        mostly_caps = len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.6
        words = [w for w in _WORD_RE.findall(text) if w not in allowed]
        if not words and not mostly_caps:
            return Finding.ok()
        repaired = _ANY_CAPS_RE.sub(
            lambda m: m.group() if m.group() in allowed or (len(m.group()) <= 3 and not mostly_caps)
            else m.group().capitalize(), text)
        return Finding.fail("ALL CAPS: " + (", ".join(words) if words else "most letters"),
                            repaired=repaired)
