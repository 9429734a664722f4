"""Cleaning model output into subject lines and enforcing the request's hard limits.

The tiny model numbers its lines, quotes them, prefixes "Subject:", shouts, and
rambles past the length limit; this turns that into plain one-line subjects and
drops (never silently rewrites the meaning of) a line that breaks a constraint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from gateway.usecases.subjects.phrases import shorten
from guardrails.emailtext import split_sentences, strip_emoji

_PREFIX = re.compile(
    r"^\s*(?:(?:\d{1,2}|[a-e])[.)\]:]\s+|[-*•·>]+\s*|#+\s*|(?:email\s+)?subject(?:\s+line)?"
    r"(?:\s*\d+)?\s*[:\-–]\s*|option\s*\d*\s*[:\-–]\s*|variant\s*\d*\s*[:\-–]\s*)+",
    re.IGNORECASE)
_QUOTES = "\"'“”‘’`*_"
_NOT_A_SUBJECT = re.compile(
    r"^(?:here (?:are|is)|sure|certainly|of course|i (?:can|will|hope)|as an ai|these subject|"
    r"note:|subject lines?:?$|body:|email:|dear |hi |hello |(?:sentiment|tone|claims?[\w ]*|"
    r"length|style|language)\s*:|.*untrusted|i'?m sorry|i am sorry|sorry,? but|"
    r"unfortunately,? i|i (?:don't|do not|am not able|am unable))", re.IGNORECASE)
_DANGLING = frozenset([
    "a", "an", "the", "and", "or", "but", "nor", "so", "to", "of", "for", "in", "on",
    "at", "by", "with", "from", "into", "as", "than", "that", "which", "who", "whom",
    "whose", "is", "are", "was", "were", "be", "been", "will", "would", "can", "could",
    "should", "shall", "may", "might", "must", "i", "we", "you", "he", "she", "they",
    "it", "my", "our", "your", "his", "her", "their", "its", "this", "these", "those",
    "if", "when", "while", "because", "about",
])
_PRONOUN_CONTRACTION = re.compile(r"(?i)(?:i|we|you|they|he|she|it|that|there)'(?:m|ll|ve|re|s|d)")


@dataclass(frozen=True)
class Limits:
    max_chars: int
    emoji: bool
    banned_words: tuple[str, ...] = ()

    def banned_pattern(self) -> re.Pattern | None:
        return _banned_regex(self.banned_words)


@lru_cache(maxsize=64)
def _banned_regex(banned_words: tuple[str, ...]) -> re.Pattern | None:
    """Compiled once per word list (``enforce`` runs on every candidate of a request)."""
    words = [w.strip() for w in banned_words if w.strip()]
    if not words:
        return None
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alt})(?!\w)", re.IGNORECASE)


def drop_cut_off_tail(text: str) -> str:
    """A line the model was cut off in (max_tokens): drop its unfinished last sentence,
    or, in a single sentence, the dangling words ("… in L.A., and I'm" -> "… in L.A.")."""
    parts = split_sentences(text, semicolons=True)
    if len(parts) > 1:
        return " ".join(parts[:-1]).rstrip(" ;")
    words = text.split()
    # "and" / "I'm" promise words that never came; "304-" or "A/" is half a token (half
    # a phone number must not survive as a whole one).
    while len(words) > 1:
        last = words[-1].strip(",;:–").lower()
        if not (last in _DANGLING or _PRONOUN_CONTRACTION.fullmatch(last)
                or last.endswith(("-", "/", "(", "&", "+", "$")) or not last):
            break
        words.pop()
    return " ".join(words).rstrip(",;:-– ")


def clean_line(line: str, *, cut_off: bool = False) -> str:
    """One raw model line -> a bare subject (no numbering, quotes, labels), or ''.
    ``cut_off``: the model stopped mid-line at its token limit."""
    s = " ".join(line.split())
    for _ in range(3):
        s = _PREFIX.sub("", s).strip().strip(_QUOTES).strip()
    if not s or _NOT_A_SUBJECT.match(s):
        return ""
    if cut_off:
        s = drop_cut_off_tail(s)
    s = s.rstrip(".").strip()
    letters = [c for c in s if c.isalpha()]
    if len(letters) >= 6 and all(c.isupper() for c in letters):
        s = s.capitalize()  # never shout; the guardrail would block it anyway
    return s


def split_model_output(text: str, limit: int = 12, *, cut_off: bool = False) -> list[str]:
    """A completion -> distinct cleaned subject lines, in the model's order. ``cut_off``:
    the completion ended at max_tokens, so its last line is unfinished."""
    out: list[str] = []
    seen: set[str] = set()
    raws = re.split(r"\n+|\s+(?=\d{1,2}[.)]\s)", (text or "").rstrip())
    for n, raw in enumerate(raws):
        s = clean_line(raw, cut_off=cut_off and n == len(raws) - 1)
        if s and s.lower() not in seen and re.search(r"[A-Za-z]", s):
            seen.add(s.lower())
            out.append(s)
        if len(out) >= limit:
            break
    return out


def enforce(text: str, limits: Limits) -> str | None:
    """The subject within the hard limits, or None when it cannot be made to fit
    honestly (a banned word, nothing left after cutting)."""
    s = " ".join(text.split())
    if not limits.emoji:
        s = " ".join(strip_emoji(s).split())
    pattern = limits.banned_pattern()
    if pattern is not None and pattern.search(s):
        return None
    if len(s) > limits.max_chars:
        s = shorten(s, limits.max_chars)
    if len(s) < 3 or not re.search(r"[A-Za-z0-9]", s) or len(s) > limits.max_chars:
        return None
    return s
