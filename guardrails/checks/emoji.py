"""Emoji: when the request does not allow them, the candidate must carry none.

The repair removes them (with their variation selectors and joiners) and tidies the
spacing left behind.
"""

from __future__ import annotations

import re
import unicodedata

from guardrails.types import CheckContext, Finding

_EMOJI_RE = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U00002B00-\U00002BFF\U0001F1E6-\U0001F1FF"
    "\u2190-\u21ff\u2300-\u23ff\u3030\u303d\u3297\u3299\u00a9\u00ae\u2122]"
    "[\ufe0e\ufe0f\u200d\U0001F3FB-\U0001F3FF]*")
_TIDY_RE = re.compile(r"[\u200d\ufe0f]")


def find_emoji(text: str) -> list[str]:
    found = []
    for m in _EMOJI_RE.finditer(text):
        ch = m.group()[0]
        if ch in "\u00a9\u00ae\u2122" or "\u2190" <= ch <= "\u21ff":
            continue  # (c), (R), TM and arrows are typography, not emoji
        if unicodedata.category(ch) in ("So", "Sk") or ch >= "\U0001F000":
            found.append(m.group())
    return found


def strip_emoji(text: str) -> str:
    out = text
    for e in find_emoji(text):
        out = out.replace(e, " ")
    out = _TIDY_RE.sub("", out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    return re.sub(r"\s+([.,!?;:])", r"\1", out).strip()


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
