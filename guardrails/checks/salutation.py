"""Salutation: the greeting and the sign-off must name people the sources name.

"Hi Alex," to a message from Bob, or "Best,\nJohn" under the user's reply, is a
visible, embarrassing hallucination — unlike a name in running text, which human
replies add all the time (see ``name_grounding``, which only flags). Greeting the
sender by a name in the from-address or body, or signing with the user's signature
or a name from their history, is grounded.
"""

from __future__ import annotations

from guardrails.propernames import addressed_names, is_name_grounded, name_keys
from guardrails.types import CheckContext, Finding


class SalutationCheck:
    name = "salutation"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        keys = ctx.memo("names.keys", lambda: name_keys(ctx.source_texts))
        missing = [n for n in addressed_names(text) if not is_name_grounded(n, keys)]
        if not missing:
            return Finding.ok()
        return Finding.fail("greets or signs as someone not in the sources: "
                            + ", ".join(dict.fromkeys(missing)))
