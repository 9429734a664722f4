"""Injection (output side): never echo what an injected passage asked for.

The incoming email is scanned with ``scan_input``; its injected spans are what a
hostile sender wrote for the model. The candidate fails when it carries a link,
email address or phone number found only inside those spans (the same item in
trusted text — history, campaign, the non-injected part of the message — is fine),
when it repeats a run of words from an injected span, or when it carries control
tokens / injection phrases itself.
"""

from __future__ import annotations

import re

from guardrails.injection import scan_input, strip_spans
from guardrails.normalize import clean, extract, is_grounded, source_keys
from guardrails.types import CheckContext, Finding

_ADDRESS_KINDS = ("url", "email", "phone")
_NGRAM = 4
_STOP = frozenset("a an the to of and or in on at for is are be it this that with you your i "
                  "we our my me us please can will would".split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", clean(text).lower())


def _ngrams(words: list[str], n: int = _NGRAM) -> set[tuple[str, ...]]:
    grams = {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    return {g for g in grams if sum(w not in _STOP for w in g) >= 2}


class _Untrusted:
    """Injected passages of the untrusted texts, and what trusted text remains."""

    def __init__(self, ctx: CheckContext) -> None:
        self.injected: list[str] = []
        cleaned: dict[str, str] = {}
        for text in ctx.untrusted_texts:
            report = scan_input(text)
            self.injected.extend(report.injected_text(text))
            cleaned[text] = strip_spans(text, report.spans)
        injected_blob = " \n".join(self.injected)
        self.injected_keys = source_keys([injected_blob]) if self.injected else set()
        trusted = []
        for src in ctx.source_texts:
            for raw, rest in cleaned.items():
                if raw and raw in src:
                    src = src.replace(raw, rest)
            trusted.append(src)
        self.trusted_keys = source_keys(trusted)
        trusted_grams = _ngrams(_words(" \n".join(trusted)))
        self.injected_grams = _ngrams(_words(injected_blob)) - trusted_grams


class InjectionCheck:
    name = "injection"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        own = scan_input(text)
        if own.suspicious:
            return Finding.fail("output carries injection markers: " + ", ".join(own.reasons))
        u: _Untrusted = ctx.memo("injection.untrusted", lambda: _Untrusted(ctx))
        if not u.injected:
            return Finding.ok()
        echoed = [e.text for e in extract(text) if e.kind in _ADDRESS_KINDS
                  and is_grounded(e, u.injected_keys) and not is_grounded(e, u.trusted_keys)]
        if echoed:
            return Finding.fail("echoes an address from an injected passage: "
                                + ", ".join(repr(x) for x in echoed))
        copied = _ngrams(_words(text)) & u.injected_grams
        if copied:
            sample = " ".join(sorted(copied)[0])
            return Finding.fail(f"repeats an injected instruction ({sample!r}...)")
        return Finding.ok()
