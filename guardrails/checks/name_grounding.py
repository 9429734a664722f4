"""Name grounding: proper names in the output should come from the sources.

A separate check from fact grounding because names are the noisiest signal (human
replies name people and places the message never mentioned), so pipelines usually
flag rather than block on it. Greeting the sender by a name in the from-address or
body is grounded.
"""

from __future__ import annotations

from guardrails.propernames import candidate_names, is_name_grounded, name_keys
from guardrails.types import CheckContext, Finding


class NameGroundingCheck:
    name = "name_grounding"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        keys = ctx.memo("names.keys", lambda: name_keys(ctx.source_texts))
        missing = [n for n in candidate_names(text, headline=ctx.task == "subject_line") if not is_name_grounded(n, keys)]
        if not missing:
            return Finding.ok()
        return Finding.fail("names not in the sources: " + ", ".join(dict.fromkeys(missing)))
