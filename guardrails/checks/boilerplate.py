"""Chatbot boilerplate: the user's reply must not sound like an assistant talking.

"As an AI...", "Here is a reply:", "Sure! Here's a subject line:" and "I hope this
helps" are the model narrating, not the user writing; "[Your Name]" is a template slot
it failed to fill. Ordinary email courtesy ("I hope this email finds you well") is
fine. The repair strips a leading preamble, a trailing offer, or a line that is only a
placeholder (with the sign-off above it) when something remains; self-references ("As
an AI language model") and placeholders inside a sentence cannot be repaired.
"""

from __future__ import annotations

from guardrails.emailtext import (
    DANGLING_SIGNOFF,
    PLACEHOLDER,
    PREAMBLE,
    SELF_REFERENCE,
    TRAILER,
)
from guardrails.types import CheckContext, Finding


def strip_placeholder_lines(text: str) -> str | None:
    """Drop lines that are only a placeholder (an unfilled signature); None when a
    placeholder sits inside a sentence, which no deletion can fix."""
    kept = [ln for ln in text.split("\n") if PLACEHOLDER.sub("", ln).strip(" ,.-–—\t")
            or not PLACEHOLDER.search(ln)]
    out = "\n".join(kept).strip()
    if len(kept) < len(text.split("\n")):  # the slot was a signature: drop its sign-off
        out = DANGLING_SIGNOFF.sub("", out).strip()
    return None if PLACEHOLDER.search(out) or not out else out


def strip_boilerplate(text: str) -> str:
    out = PREAMBLE.sub("", text, count=1)
    out = TRAILER.sub("", out)
    return out.strip().strip('"“”').strip()


class BoilerplateCheck:
    name = "boilerplate"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if SELF_REFERENCE.search(text):
            return Finding.fail("talks about itself as an AI")
        if PLACEHOLDER.search(text):
            fixed = strip_placeholder_lines(text)
            return Finding.fail("unfilled template placeholder",
                                repaired=strip_boilerplate(fixed) if fixed else None)
        if PREAMBLE.search(text) or TRAILER.search(text):
            repaired = strip_boilerplate(text)
            return Finding.fail("assistant preamble or sign-off", repaired=repaired or None)
        return Finding.ok()
