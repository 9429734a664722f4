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

GREETING = re.compile(
    r"^\s*(hi|hey|hello|hiya|dear|good (morning|afternoon|evening)|morning|greetings|yo)\b"
    r"[ \t]*([A-Z][\w.'-]*( [A-Z][\w.'-]*)?)?[ \t]*[,!.:\-–—]?[ \t]*\n?",
    re.IGNORECASE,
)
_SIGNOFF_WORDS = (
    r"cheers|thanks|thank you|thanks again|many thanks|thx|best|best regards|kind regards|"
    r"warm regards|regards|sincerely|yours sincerely|yours truly|all the best|talk soon|"
    r"speak soon|take care|warmly|best wishes|ttyl|later"
)
# A sign-off at the very end: "Cheers, Sam" / "Best regards,\nJane Doe" / "- Sam".
SIGNOFF = re.compile(
    rf"(?:^|(?<=[.!?\n])|(?<=[.!?] ))[ \t]*(?P<word>{_SIGNOFF_WORDS})[ \t]*[,!.]?[ \t]*\n?[ \t]*"
    r"(?P<name>[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?)?[ \t]*[.!]?\s*$",
    re.IGNORECASE,
)
_DASH_NAME = re.compile(r"\n?[ \t]*[-–—~][ \t]*[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?\s*$")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\U0001F1E6-\U0001F1FF]")
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


def split_signoff(text: str) -> tuple[str, str | None]:
    """``("Sounds good.", "Cheers, Sam")`` for ``"Sounds good. Cheers, Sam"``."""
    t = text.rstrip()
    m = SIGNOFF.search(t)
    if m and m.start() > 0:
        body = t[: m.start()].rstrip()
        return body, " ".join(t[m.start():].split()).replace(" ,", ",")
    m = _DASH_NAME.search(t)
    if m and m.start() > 0:
        return t[: m.start()].rstrip(), t[m.start():].strip()
    return t, None


def split_greeting(text: str) -> tuple[str | None, str]:
    """``("Hi", "Sure, works.")`` for ``"Hi Bob, sure, works."`` (greeting word only)."""
    m = GREETING.match(text)
    if not m or m.end() >= len(text.rstrip()):
        return None, text
    rest = text[m.end():].lstrip()
    word = m.group(1)
    return word[:1].upper() + word[1:].lower(), rest[:1].upper() + rest[1:]


def _formality(texts: Sequence[str]) -> float:
    formal = informal = 0
    for t in texts:
        formal += len(_FORMAL.findall(t))
        informal += len(_INFORMAL.findall(t)) + len(_CONTRACTION.findall(t))
    if formal + informal == 0:
        return 0.5
    return formal / (formal + informal)


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
    emoji = lower = 0
    bodies = []
    for r in replies:
        g, rest = split_greeting(r)
        body, s = split_signoff(rest)
        if g:
            greetings[g] += 1
        if s:
            signoffs[s] += 1
        bodies.append(body)
        words.append(len(body.split()))
        emoji += bool(EMOJI.search(r))
        lower += body[:1].islower()
    n = len(replies)
    greeting = None
    if greetings:
        word, count = greetings.most_common(1)[0]
        greeting = word if count / n >= min_share else None
    signoff = sig
    if signoff is None and signoffs:
        text, count = signoffs.most_common(1)[0]
        signoff = text if count / n >= min_share and count >= 2 else None
    return StyleProfile(
        samples=n, greeting=greeting, signoff=signoff,
        median_words=int(statistics.median(words)) if words else 12,
        formality=round(_formality(bodies), 2),
        emoji=emoji / n >= 0.3, lowercase=lower / n >= 0.5,
    )
