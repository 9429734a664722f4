"""Emoji: when the request does not allow them, the candidate must carry none.

The repair removes them (with their variation selectors and joiners) and tidies the
spacing left behind.
"""

from __future__ import annotations

from guardrails.emailtext import find_emoji, strip_emoji
from guardrails.types import CheckContext, Finding


class EmojiCheck:
    name = "emoji"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        if ctx.emoji_allowed:
            return Finding.ok()
        found = find_emoji(text)
        if not found:
            return Finding.ok()
        return Finding.fail(f"{len(found)} emoji where emoji are not allowed",
                            repaired=strip_emoji(text) or None)
