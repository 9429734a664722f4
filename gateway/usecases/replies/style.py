"""A user's reply style, derived from the replies they actually wrote.

The tiny local model cannot be trusted to imitate a style from two examples, so
the habits that matter most for a short reply are measured here and applied
deterministically after generation: whether the user opens with a greeting,
how they sign off, how long their replies are, how formal they are, whether
they use emoji. The preference ``signature`` wins over a learned sign-off.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from guardrails.emailtext import has_emoji, split_greeting, split_signoff

_CONTRACTION = re.compile(r"\b\w+'(s|re|ll|ve|d|m|t)\b", re.IGNORECASE)
_INFORMAL = re.compile(
    r"\b(hey|yeah|yep|yup|nope|cool|awesome|gonna|wanna|lol|haha|thx|cheers|ok|okay|sure|np|"
    r"btw|asap|no worries|sounds good)\b|!",
    re.IGNORECASE,
)
_FORMAL = re.compile(
    r"\b(dear|regards|sincerely|kindly|please find|i would|i shall|appreciate|"
    r"thank you|certainly|further|regarding|accordingly|attached|however)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StyleProfile:
    """What a suggestion should look like for this user (defaults: neutral, no history)."""

    samples: int = 0
    greeting: str | None = None  # e.g. "Hi" when the user usually opens with it
    signoff: str | None = None  # e.g. "Cheers, Sam" (verbatim habit or preference signature)
    median_words: int = 12
    formality: float = 0.5  # 0 casual .. 1 formal
    emoji: bool = False
    lowercase: bool = False  # writes in lower case ("sounds good")
    # Signs on a line of their own ("...see you there!\n\nBest,\nIsabel"), not after
    # the last sentence ("...see you there! Best, Isabel"); a reply with a greeting is
    # laid out one part per line anyway.
    signoff_own_line: bool = False
    # Puts the name on a line under the valediction ("Best,\nIsabel"), as most people
    # who sign on a line of their own do; only for a learned sign-off (a preference
    # signature is used as written).
    signoff_name_line: bool = False

    @property
    def signoff_names(self) -> list[str]:
        """The name(s) the sign-off ends with: ["Sam"] for "Cheers, Sam", ["Jane Doe",
        "Jane"] for "Best regards, Jane Doe"; none without a comma ("Thanks")."""
        _, comma, name = (self.signoff or "").rpartition(",")
        name = name.strip(" .!")
        if not comma or not name[:1].isupper():
            return []
        return list(dict.fromkeys([name, name.split()[0]]))

    @property
    def signoff_block(self) -> str | None:
        """The sign-off laid out the way the user writes it on a line of its own."""
        head, comma, name = (self.signoff or "").rpartition(", ")
        if self.signoff_name_line and comma and self.signoff_names:
            return f"{head},\n{name}"
        return self.signoff

    @property
    def terse(self) -> bool:
        return self.samples > 0 and self.median_words <= 8

    @property
    def max_sentences(self) -> int:
        return 1 if self.terse else 2

    def describe(self) -> str:
        """A few words for the prompt: the model gets the gist, post-processing the rest."""
        if not self.samples:
            return "short, friendly, neutral"
        parts = ["very short" if self.terse else "short"]
        parts.append("formal" if self.formality >= 0.6 else
                     "casual" if self.formality <= 0.4 else "friendly")
        if self.emoji:
            parts.append("may use an emoji")
        return ", ".join(parts)


def _formality(texts: Sequence[str]) -> float:
    formal = informal = 0
    for t in texts:
        formal += len(_FORMAL.findall(t))
        informal += len(_INFORMAL.findall(t)) + len(_CONTRACTION.findall(t))
    if formal + informal == 0:
        return 0.5
    return formal / (formal + informal)


def _habit(counts: Counter[str], n: int, min_share: float, *, at_least: int = 1) -> str | None:
    """The user's usual wording of a greeting or sign-off, or None if it is no habit.

    A user who greets or signs off most of the time, in words that vary ("Best, David",
    "Best regards, David", "Cheers, David"; "Hi", "Dear", "Hey"), gets their most
    frequent wording: the habit is greeting or signing off, even when no single wording
    reaches the share.
    """
    if not counts:
        return None
    text, count = counts.most_common(1)[0]
    total = sum(counts.values())
    usual = count / n >= min_share or (total / n >= min_share and count / total >= 0.25)
    return text if usual and count >= at_least else None


def build_profile(replies: Sequence[str], *, signature: str | None = None,
                  min_share: float = 0.4) -> StyleProfile:
    """Measure habits over the user's past replies (most recent first)."""
    replies = [r.strip() for r in replies if r and r.strip()]
    sig = " ".join(signature.split()) if signature and signature.strip() else None
    if not replies:
        return StyleProfile(signoff=sig)
    greetings: Counter[str] = Counter()
    signoffs: Counter[str] = Counter()
    words: list[int] = []
    emoji = lower = own_line = name_line = 0
    bodies = []
    for r in replies:
        g, rest = split_greeting(r)  # ``rest`` has LF line ends
        body, s = split_signoff(rest)
        if g:
            greetings[g] += 1
        if s:
            signoffs[s] += 1
            tail = rest.rstrip()[len(body):]  # "\n\nBest,\n\nIsabel"
            own_line += "\n" in tail[: len(tail) - len(tail.lstrip())]
            name_line += "\n" in tail.strip()
        bodies.append(body)
        words.append(len(body.split()))
        emoji += has_emoji(r)
        lower += body[:1].islower()
    n = len(replies)
    greeting = _habit(greetings, n, min_share)
    signoff = sig if sig is not None else _habit(signoffs, n, min_share, at_least=2)
    signs = sum(signoffs.values())
    return StyleProfile(
        samples=n, greeting=greeting, signoff=signoff,
        median_words=int(statistics.median(words)) if words else 12,
        formality=round(_formality(bodies), 2),
        emoji=emoji / n >= 0.3, lowercase=lower / n >= 0.5,
        signoff_own_line=bool(signs) and own_line / signs >= 0.5,
        signoff_name_line=sig is None and bool(signs) and name_line / signs >= 0.5,
    )
