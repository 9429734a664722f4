"""Untrusted echo: the output repeats a link, email address or phone number that only
the stranger's message contains.

Defense in depth behind ``injection``: ``scan_input`` recognizes known injection
phrasings, and on attacks written after it was tuned it caught about half (see
docs/guardrails.md). Whatever the phrasing, a payload must end up in the output as a
link, address or number the attacker supplied — this check sees that. Echoing the
sender's own link back is sometimes legitimate ("the agenda is at <link>"), so the
shipped action is ``flag`` (served, ranked lower by the use cases); set it to
``block`` for a strict tenant.
"""

from __future__ import annotations

from guardrails.checks.injection import _without
from guardrails.normalize import extract, is_grounded
from guardrails.types import CheckContext, Finding

_ADDRESS_KINDS = ("url", "email", "phone")


class UntrustedEchoCheck:
    name = "untrusted_echo"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if not ctx.untrusted_texts:
            return Finding.ok()
        addresses = [e for e in extract(text) if e.kind in _ADDRESS_KINDS]
        if not addresses:  # most candidates: then no source's entities are needed
            return Finding.ok()

        def trusted_keys():
            removed = {t: " " for t in ctx.untrusted_texts}
            return ctx.keys_of(_without(s, removed) for s in ctx.source_texts)

        untrusted = ctx.keys_of(ctx.untrusted_texts)
        trusted = ctx.memo("untrusted_echo.trusted", trusted_keys)
        echoed = [e.text for e in addresses
                  if is_grounded(e, untrusted) and not is_grounded(e, trusted)]
        if not echoed:
            return Finding.ok()
        return Finding.fail("repeats what only the sender's message contains: "
                            + ", ".join(repr(x) for x in echoed))
