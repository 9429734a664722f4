"""Grounding: every factual span of the output must come from the sources.

Numbers, money, percentages, dates, relative dates ("tomorrow", "next week"), times,
weekdays, links, email addresses and phone numbers (also spelled-out amounts: "twenty
dollars", "three pm") in a candidate are extracted and normalized (``guardrails.normalize``); each
must match something in the sources ("Friday 3pm" is grounded by "Friday at 3pm",
"$20" by "20 dollars"). For subject lines, promotional claims ("free", "today only",
"last chance") are facts too: the campaign body must make them.
"""

from __future__ import annotations

import re

from guardrails.normalize import extract, is_grounded
from guardrails.types import CheckContext, Finding

# Claim -> words that ground it in the campaign body. A deadline claim is grounded by
# any stated deadline. ("today", "this weekend" are relative dates: facts, in normalize.)
_DEADLINE = ("until", "ends", "ending", "expires", "expire", "deadline", "last", "final",
             "through", "only", "limited", "hours left", "today", "tonight", "midnight")
SUBJECT_CLAIMS: dict[str, tuple[str, ...]] = {
    "free": ("free",),
    "last chance": _DEADLINE,
    "last day": _DEADLINE,
    "final hours": _DEADLINE,
    "hours left": _DEADLINE,
    "ends soon": _DEADLINE,
    "ending soon": _DEADLINE,
    "limited time": _DEADLINE,
    "while supplies last": ("supplies", "stock", "limited"),
    "guaranteed": ("guarantee", "guaranteed"),
    "sold out": ("sold out", "selling out", "stock"),
}


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


class GroundingCheck:
    """Facts in the output that are not in the sources fail this check."""

    name = "grounding"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        entities = extract(text)
        missing = []
        if entities:  # a text with no entity needs no source's (extracting them all is costly)
            keys = ctx.memo("grounding.keys", lambda: ctx.keys_of(ctx.source_texts))
            missing = [e.text for e in entities if not is_grounded(e, keys)]
        if ctx.task == "subject_line":
            corpus = " \n".join(ctx.source_texts)
            for claim, grounds in SUBJECT_CLAIMS.items():
                if _has_word(text, claim) and not any(_has_word(corpus, g) for g in grounds):
                    missing.append(claim)
        if not missing:
            return Finding.ok()
        shown = ", ".join(repr(m) for m in dict.fromkeys(missing))
        return Finding.fail(f"not in the sources: {shown}")
