"""Spam triggers in subject lines: phrases that filters and readers treat as spam.

Only strong triggers are listed — words like "sale" or "new" are fine. Runs of "!!!"
or "$$$" count as well. Applies to subject lines only; replies are judged by the
other checks.
"""

from __future__ import annotations

import re

from guardrails.normalize import clean
from guardrails.types import CheckContext, Finding

TRIGGERS = (
    "act now", "buy now", "order now", "click here", "click below", "100% free", "risk-free",
    "risk free", "no cost", "no credit check", "winner", "you've won", "you have won",
    "congratulations you", "cash bonus", "earn money", "make money", "extra income",
    "double your", "get rich", "guaranteed income", "lowest price", "best price guaranteed",
    "once in a lifetime", "urgent response", "call now", "apply now", "limited time offer",
    "no strings attached", "this isn't spam", "not spam", "miracle", "weight loss", "viagra",
    "casino", "lottery", "wire transfer", "bitcoin", "crypto giveaway", "dear friend",
)
_TRIGGER_RE = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in TRIGGERS) + r")(?!\w)",
                         re.IGNORECASE)
_RUN_RE = re.compile(r"[!?]{3,}|\${2,}|€{2,}")


class SpamCheck:
    name = "spam"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if ctx.task != "subject_line":
            return Finding.ok()
        body = clean(text)
        found = [m.group() for m in _TRIGGER_RE.finditer(body)] + _RUN_RE.findall(body)
        if not found:
            return Finding.ok()
        return Finding.fail("spam trigger(s): " + ", ".join(repr(f) for f in dict.fromkeys(found)))
