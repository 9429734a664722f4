"""Injection (output side): never echo what an injected passage asked for.

The incoming email is scanned with ``scan_input``; its injected spans are what a
hostile sender wrote for the model. The candidate fails when it carries a link,
email address or phone number that came only from an untrusted text that carries an
injection (the same item in trusted text — history, campaign, the signature — is
fine; addresses of an untrusted text with no injection in it are left to grounding),
when it repeats a run of words from an injected span, or when it carries control
tokens / injection phrases itself.
"""

from __future__ import annotations

import re
from functools import cached_property

from guardrails.injection import scan_input, strip_spans
from guardrails.normalize import clean, extract, is_grounded
from guardrails.types import CheckContext, Finding

_ADDRESS_KINDS = ("url", "email", "phone")
_NGRAM = 4
_STOP = frozenset("a an the to of and or in on at for is are be it this that with you your i "  # noqa: SIM905
                  "we our my me us please can will would".split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", clean(text).lower())


def _ngrams(words: list[str], n: int = _NGRAM) -> set[tuple[str, ...]]:
    grams = {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    return {g for g in grams if sum(w not in _STOP for w in g) >= 2}


def _without(src: str, parts: dict[str, str]) -> str:
    """``src`` with each untrusted text in ``parts`` replaced by its value."""
    for raw, rest in parts.items():
        if raw and raw in src:
            src = src.replace(raw, rest)
        elif raw and clean(raw) in clean(src):
            src = clean(src).replace(clean(raw), rest)
    return src


class _Untrusted:
    """Injected passages of the untrusted texts, and what trusted text remains.

    Only the scan runs up front; the keys and phrases are worked out the first time a
    check asks for them, which is only when some untrusted text carries an injection
    (a clean message, the usual case, never pays for extracting every source's
    entities and n-grams)."""

    def __init__(self, ctx: CheckContext) -> None:
        self._ctx = ctx
        self.injected: list[str] = []
        self._stripped: dict[str, str] = {}  # untrusted text -> its non-injected remainder
        self._tainted: list[str] = []
        for text in ctx.untrusted_texts:
            report = scan_input(text)
            if report.suspicious:
                self.injected.extend(report.injected_text(text))
                self._stripped[text] = strip_spans(text, report.spans)
                self._tainted.append(text)
        # Addresses: a text that talks to the model (or hides text from its reader)
        # taints every address in it — the instruction and the link can be paragraphs
        # apart, or the instruction invisible; only trusted text clears an address.
        self.tainted = bool(self._tainted)

    @cached_property
    def injected_keys(self) -> set:
        return self._ctx.keys_of(self._tainted)

    @cached_property
    def trusted_keys(self) -> set:
        removed = {t: " " for t in self._tainted}
        return self._ctx.keys_of(_without(s, removed) for s in self._ctx.source_texts)

    @cached_property
    def rest(self) -> str:
        # Phrases: only the injected passages count; the rest of the message may be quoted.
        return " \n".join(_without(s, self._stripped) for s in self._ctx.source_texts)

    @cached_property
    def injected_grams(self) -> set:
        trusted_grams = _ngrams(_words(self.rest))
        return _ngrams(_words(" \n".join(self.injected))) - trusted_grams


class InjectionCheck:
    name = "injection"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        own = scan_input(text)
        if own.suspicious:
            return Finding.fail("output carries injection markers: " + ", ".join(own.reasons))
        u: _Untrusted = ctx.memo("injection.untrusted", lambda: _Untrusted(ctx))
        if not u.tainted:
            return Finding.ok()
        echoed = [e.text for e in extract(text) if e.kind in _ADDRESS_KINDS
                  and is_grounded(e, u.injected_keys) and not is_grounded(e, u.trusted_keys)]
        if echoed:
            return Finding.fail("echoes an address from a message that carries an injection: "
                                + ", ".join(repr(x) for x in echoed))
        copied = _ngrams(_words(text)) & u.injected_grams
        if copied:
            sample = " ".join(min(copied))
            return Finding.fail(f"repeats an injected instruction ({sample!r}...)")
        return Finding.ok()
