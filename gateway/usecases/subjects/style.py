"""Style features of subject lines and how well a candidate fits a recipient's taste.

A profile is the (weighted) average of simple, explainable features over the
subjects a recipient opened or an author wrote: length, casing, emoji,
questions, numbers, personal address. ``fit`` is 1 for a candidate that looks
like the profile's typical subject and falls towards 0 as it drifts away.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from guardrails.emailtext import has_emoji

_YOU = re.compile(r"\b(?:you|your|you're|yours)\b", re.IGNORECASE)
_NUM = re.compile(r"\d")


@dataclass(frozen=True)
class StyleProfile:
    """Averages over a set of subjects; ``n`` = how many subjects it rests on."""

    chars: float = 38.0
    words: float = 6.0
    title_case: float = 0.3
    lower_case: float = 0.05
    emoji: float = 0.0
    question: float = 0.1
    numbers: float = 0.3
    personal: float = 0.2
    n: int = 0

    def describe(self) -> str:
        """A short plain-English hint for the prompt."""
        parts = [f"about {round(self.words)} words"]
        if self.question > 0.4:
            parts.append("often a question")
        if self.emoji > 0.4:
            parts.append("with an emoji")
        if self.personal > 0.4:
            parts.append("speaks to the reader as 'you'")
        if self.title_case > 0.6:
            parts.append("Title Case")
        elif self.lower_case > 0.6:
            parts.append("all lower case")
        return ", ".join(parts)


def features(subject: str) -> dict[str, float]:
    words = subject.split()
    capital = [w for w in words if w[:1].isalpha()]
    title = (sum(1 for w in capital if w[:1].isupper()) / len(capital)) if capital else 0.0
    return {
        "chars": float(len(subject)),
        "words": float(len(words)),
        "title_case": 1.0 if len(capital) >= 2 and title >= 0.75 else 0.0,
        "lower_case": 1.0 if subject == subject.lower() and capital else 0.0,
        "emoji": 1.0 if has_emoji(subject) else 0.0,
        "question": 1.0 if subject.rstrip().endswith("?") else 0.0,
        "numbers": 1.0 if _NUM.search(subject) else 0.0,
        "personal": 1.0 if _YOU.search(subject) else 0.0,
    }


_KEYS = ("chars", "words", "title_case", "lower_case", "emoji", "question", "numbers",
         "personal")


def profile_of(subjects: Sequence[str], weights: Sequence[float] | None = None) -> StyleProfile:
    """Weighted average style of ``subjects``; the default profile when empty."""
    subjects = [s for s in subjects if s and s.strip()]
    if not subjects:
        return StyleProfile()
    ws = list(weights) if weights is not None else [1.0] * len(subjects)
    ws = [max(w, 1e-3) for w in ws[:len(subjects)]]
    total = sum(ws)
    acc = dict.fromkeys(_KEYS, 0.0)
    for s, w in zip(subjects, ws):
        for k, v in features(s).items():
            acc[k] += v * w / total
    return StyleProfile(**acc, n=len(subjects))


def fit(subject: str, profile: StyleProfile) -> float:
    """1.0 = looks like the profile's typical subject; 0.0 = nothing alike."""
    f = features(subject)
    length = min(abs(f["chars"] - profile.chars) / max(profile.chars, 10.0), 1.0)
    words = min(abs(f["words"] - profile.words) / max(profile.words, 2.0), 1.0)
    binary = [abs(f[k] - getattr(profile, k)) for k in
              ("title_case", "lower_case", "emoji", "question", "numbers", "personal")]
    miss = 0.3 * length + 0.2 * words + 0.5 * sum(binary) / len(binary)
    return max(0.0, 1.0 - miss)
