"""Chatbot boilerplate: the user's reply must not sound like an assistant talking.

"As an AI...", "Here is a reply:", "Sure! Here's a subject line:" and "I hope this
helps" are the model narrating, not the user writing; "[Your Name]" is a template slot
it failed to fill. Ordinary email courtesy ("I hope this email finds you well") is
fine. The repair strips a leading preamble, a trailing offer, or a line that is only a
placeholder (with the sign-off above it) when something remains; self-references ("As
an AI language model") and placeholders inside a sentence cannot be repaired.
"""

from __future__ import annotations

import re

from guardrails.types import CheckContext, Finding

_KIND = (r"(?:reply|response|answer|suggestion|subject(?:\s+line)?|email|message|draft|"
         r"option|version|variant)s?")
PREAMBLE_RE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok|great)[!,.]*\s*)?"
    r"(?:here(?:'s|\s+is|\s+are)\s+(?:a|an|the|some|your|my|three|\d+)?\s*(?:short\s+|brief\s+|"
    r"possible\s+|suggested\s+|polite\s+|professional\s+|quick\s+)*" + _KIND + r"\b[^:\n]{0,60}[:\n]"
    r"|(?:reply|response|answer|subject(?:\s+line)?|output)\s*(?:\d+)?\s*:)\s*",
    re.IGNORECASE)
SELF_REFERENCE_RE = re.compile(
    r"\bas\s+an?\s+(?:ai|artificial intelligence|language model|llm|assistant|chatbot)\b"
    r"|\bI(?:'m| am)\s+(?:just\s+)?an?\s+(?:ai|language model|llm|virtual assistant|chatbot)\b"
    r"|\bI\s+(?:cannot|can't|am unable to)\s+(?:browse|access)\s+(?:the\s+)?(?:internet|emails?)\b"
    r"|\bmy\s+(?:training|knowledge)\s+(?:data|cutoff)\b", re.IGNORECASE)
TRAILER_RE = re.compile(
    r"(?:I hope (?:this|that) helps|Let me know if you(?:'d| would)? (?:like|want|need) "
    r"(?:any )?(?:changes|adjustments|another|more|me to)|Feel free to (?:adjust|modify|edit))"
    r"[^\n]*$", re.IGNORECASE)


# Template slots the model failed to fill: "[Your Name]", "[Date]", "<name>", "{company}".
PLACEHOLDER_RE = re.compile(
    r"\[(?:your|my|their|recipient(?:'s)?|sender(?:'s)?|insert|company|first|last|full)?\s*"
    r"(?:name|date|time|company|title|position|number|phone|email|address|link|signature)"
    r"(?:\s+(?:name|here|number))?\]"
    r"|(?-i:\[[A-Z][a-z]+(?:\s[A-Z][a-z]+){1,2}\])(?!\()"  # "[Company Name]"; not "[Urgent]"
    r"|<(?:your\s+)?name>|\{\{?\s*\w+\s*\}?\}", re.IGNORECASE)


_DANGLING_SIGNOFF_RE = re.compile(
    r"\n[ \t]*(?:best|regards|best regards|kind regards|warm regards|cheers|thanks|thank you|"
    r"sincerely|yours|warmly|all the best)[ \t]*[,!.]?[ \t]*$", re.IGNORECASE)


def strip_placeholder_lines(text: str) -> str | None:
    """Drop lines that are only a placeholder (an unfilled signature); None when a
    placeholder sits inside a sentence, which no deletion can fix."""
    kept = [ln for ln in text.split("\n") if PLACEHOLDER_RE.sub("", ln).strip(" ,.-–—\t")
            or not PLACEHOLDER_RE.search(ln)]
    out = "\n".join(kept).strip()
    if len(kept) < len(text.split("\n")):  # the slot was a signature: drop its sign-off
        out = _DANGLING_SIGNOFF_RE.sub("", out).strip()
    return None if PLACEHOLDER_RE.search(out) or not out else out


def strip_boilerplate(text: str) -> str:
    out = PREAMBLE_RE.sub("", text, count=1)
    out = TRAILER_RE.sub("", out)
    return out.strip().strip('"“”').strip()


class BoilerplateCheck:
    name = "boilerplate"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if SELF_REFERENCE_RE.search(text):
            return Finding.fail("talks about itself as an AI")
        if PLACEHOLDER_RE.search(text):
            fixed = strip_placeholder_lines(text)
            return Finding.fail("unfilled template placeholder",
                                repaired=strip_boilerplate(fixed) if fixed else None)
        if PREAMBLE_RE.search(text) or TRAILER_RE.search(text):
            repaired = strip_boilerplate(text)
            return Finding.fail("assistant preamble or sign-off", repaired=repaired or None)
        return Finding.ok()
