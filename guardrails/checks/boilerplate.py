"""Chatbot boilerplate: the user's reply must not sound like an assistant talking.

"As an AI...", "Here is a reply:", "Sure! Here's a subject line:" and "I hope this
helps" are the model narrating, not the user writing. Ordinary email courtesy ("I hope
this email finds you well") is fine. The repair strips a leading preamble or a
trailing offer when what remains is non-empty; self-references ("As an AI language
model") cannot be repaired.
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


def strip_boilerplate(text: str) -> str:
    out = PREAMBLE_RE.sub("", text, count=1)
    out = TRAILER_RE.sub("", out)
    return out.strip().strip('"“”').strip()


class BoilerplateCheck:
    name = "boilerplate"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if SELF_REFERENCE_RE.search(text):
            return Finding.fail("talks about itself as an AI")
        if PREAMBLE_RE.search(text) or TRAILER_RE.search(text):
            repaired = strip_boilerplate(text)
            return Finding.fail("assistant preamble or sign-off", repaired=repaired or None)
        return Finding.ok()
