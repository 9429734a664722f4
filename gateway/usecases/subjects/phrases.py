"""Phrases lifted from an email or campaign body: sentences and key phrases.

Subject lines built from these are grounded by construction (every word comes
from the body), which is why the rule fallback and the extractive candidates
use them. Key phrases are scored RAKE-style (Rose et al. 2010): runs of content
words between stop words, a word's score being its degree over its frequency,
with a boost for early position and capitalised (proper-noun-like) words.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from guardrails.emailtext import BODY_GREETING, STOPWORDS, split_sentences

_WORD = re.compile(r"[A-Za-z0-9$€£%][A-Za-z0-9$€£%'&./\-]*")
_HEADER_LINE = re.compile(r"^\s*(?:from|to|cc|sent|subject|date)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Phrase:
    text: str
    score: float
    position: int  # index of the first word in the body


def clean_body(body: str) -> str:
    """The body without a leading greeting, quoted headers or forwarded blocks."""
    lines = []
    for line in (body or "").splitlines():
        if line.lstrip().startswith(">"):
            continue
        if re.match(r"^\s*-{2,}\s*(original message|forwarded by)", line, re.IGNORECASE):
            break
        if _HEADER_LINE.match(line):
            continue
        lines.append(line)
    text = "\n".join(lines).strip()
    return BODY_GREETING.sub("", text, count=1).strip()


def sentences(body: str, limit: int = 8) -> list[str]:
    out = []
    for s in split_sentences(clean_body(body), newlines=True):
        s = " ".join(s.split()).strip(" -*•")
        if len(_WORD.findall(s)) >= 2:
            out.append(s)
        if len(out) >= limit:
            break
    return out


def _is_stop(word: str) -> bool:
    return word.lower().strip(".'-") in STOPWORDS or len(word.strip(".'-")) < 2


def key_phrases(body: str, *, max_words: int = 4, limit: int = 8,
                window_words: int = 400) -> list[Phrase]:
    """Top RAKE phrases of the body, best first, original surface form kept."""
    text = clean_body(body)
    runs: list[tuple[list[str], int]] = []
    current: list[str] = []
    start = 0
    position = 0
    for chunk in re.split(r"([,;:!?()\"\n]|\.(?=\s|$))", text):
        if chunk is None:
            continue
        words = _WORD.findall(chunk)
        if not words:
            if current:
                runs.append((current, start))
                current = []
            continue
        for w in words:
            w = w.rstrip(".")
            if not w:
                continue
            if _is_stop(w) or re.fullmatch(r"[\d./\-]+", w) and len(w) > 6:
                if current:
                    runs.append((current, start))
                    current = []
            else:
                if not current:
                    start = position
                current.append(w)
            position += 1
            if position >= window_words:
                break
        if current and re.search(r"[,;:!?()\"\n.]", chunk or ""):
            runs.append((current, start))
            current = []
        if position >= window_words:
            break
    if current:
        runs.append((current, start))
    runs = [(r[:max_words], s) for r, s in runs]
    freq: Counter[str] = Counter()
    degree: defaultdict[str, int] = defaultdict(int)
    for run, _ in runs:
        for w in run:
            freq[w.lower()] += 1
            degree[w.lower()] += len(run)
    best: dict[str, Phrase] = {}
    total = max(position, 1)
    for run, pos in runs:
        words = [w.lower() for w in run]
        score = sum((degree[w] / freq[w]) ** 0.5 + 0.6 * (freq[w] - 1) for w in words)
        score += 0.5 * sum(1 for w in run if w[:1].isupper() and not w.isupper())
        score *= 1.0 + 0.8 * (1.0 - pos / total)
        key = " ".join(words)
        phrase = Phrase(text=" ".join(run), score=score, position=pos)
        if key not in best or best[key].score < score:
            best[key] = phrase
    return sorted(best.values(), key=lambda p: -p.score)[:limit]


def topic_words(body: str, *, limit: int = 3) -> list[str]:
    """The body's most repeated content words and word pairs ("draft", "gas daily"),
    in their first surface form: short subjects often are just the topic."""
    words = [w.rstrip(".") for w in _WORD.findall(clean_body(body))[:400]]
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for a, b in zip(words, words[1:] + [""]):
        if _is_stop(a) or a.isdigit():
            continue
        counts[a.lower()] += 2
        surface.setdefault(a.lower(), a)
        if b and not _is_stop(b) and not b.isdigit():
            key = f"{a.lower()} {b.lower()}"
            counts[key] += 3
            surface.setdefault(key, f"{a} {b}")
    ranked = [k for k, c in counts.most_common() if c >= 4]
    return [surface[k] for k in ranked[:limit]]


def shorten(text: str, max_chars: int) -> str:
    """Cut at a word boundary to fit ``max_chars``; drop dangling stop words and
    punctuation. Words are never split, so a number or date is kept whole or not at all."""
    text = " ".join(text.split())
    if len(text) > max_chars:
        words = text.split(" ")
        kept: list[str] = []
        for w in words:
            if len(" ".join(kept + [w])) > max_chars:
                break
            kept.append(w)
        text = " ".join(kept)
    words = text.split(" ")
    while words and (_is_stop(words[-1].strip(",;:-–")) and len(words) > 1
                     or not words[-1].strip(",;:-–.")):
        words.pop()
    return " ".join(words).rstrip(",;:-– ")


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text
