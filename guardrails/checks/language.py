"""Language: the output is in the language of the input.

langdetect is unreliable on short text (it calls "questions on archives/cabinet
space - please advise" French with 99.99% confidence), so only texts with at least
``min_chars`` letters in ``min_words`` words are judged, only a confident detection
(probability >= ``min_prob``) counts, and text whose words are at least an eighth
common English function words is taken as English whatever langdetect says. The expected language is the detected language of the incoming message or
campaign (first untrusted text, else first source); when that is too short to judge,
the request's ``language`` (the user's locale) is used. Detection is seeded, so
verdicts are reproducible.
"""

from __future__ import annotations

import functools
import re

from guardrails.types import CheckContext, Finding


@functools.lru_cache(maxsize=1)
def _factory_seeded() -> bool:
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0
    return True


# English-only function words (no "a", "me", "no", "in", "is", "die" ...: those are words
# in Spanish, Italian, German or Dutch too).
_EN_FUNCTION_WORDS = frozenset("""the and to of on at for with from by are were been it this
that you we they she my your our us not yes will would can could please thanks thank has did
if about just all""".split())  # noqa: SIM905


def english_share(words: list[str]) -> float:
    return sum(w.lower() in _EN_FUNCTION_WORDS for w in words) / len(words) if words else 0.0


def detect(text: str, *, min_chars: int, min_prob: float, min_words: int = 6) -> str | None:
    """Language code of ``text``, or None when it is too short or detection unsure."""
    text = text[:2000]  # plenty for detection; long mail would cost seconds
    words = re.findall(r"[^\W\d_]+", text)
    if len(words) < min_words or sum(map(len, words)) < min_chars:
        return None
    if english_share(words) >= 0.12:
        return "en"
    _factory_seeded()
    from langdetect import LangDetectException, detect_langs

    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return None
    return best.lang if best.prob >= min_prob else None


def _base(lang: str | None) -> str | None:
    return lang.split("-")[0].split("_")[0].lower() if lang else None


class LanguageCheck:
    name = "language"

    def __init__(self, min_chars: int = 40, min_prob: float = 0.90) -> None:
        self.min_chars = min_chars
        self.min_prob = min_prob

    def _expected(self, ctx: CheckContext) -> str | None:
        primary = (ctx.untrusted_texts or ctx.source_texts or [""])[0]
        found = detect(primary, min_chars=self.min_chars, min_prob=self.min_prob)
        return _base(found or ctx.language)

    def run(self, text: str, ctx: CheckContext) -> Finding:
        expected = ctx.memo("language.expected", lambda: self._expected(ctx))
        if expected is None:
            return Finding.ok()
        got = _base(detect(text, min_chars=self.min_chars, min_prob=self.min_prob))
        if got is None or got == expected:
            return Finding.ok()
        return Finding.fail(f"written in {got!r}, the input is {expected!r}")
