"""Prompt-injection detection for hostile input, and a sanitizer to run before prompting.

Incoming email is written by strangers. ``scan_input`` finds text aimed at the model
rather than at the human reader — "ignore previous instructions", forged role tags,
hidden characters, encoded blobs, "reply with this link" — and returns the spans it
judged injected. The output check (``guardrails.checks.injection``) uses those spans:
a link or address that occurs only inside them must never reach a suggestion.

``sanitize`` removes what a human reader cannot see (zero-width, bidi and tag
characters) and defuses chat-template control tokens, so the model is not shown
instructions the user never saw.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass, field

from guardrails.injection_patterns import CONTROL_TOKEN_RE as _CONTROL_TOKEN_RE
from guardrails.injection_patterns import STRONG, WEAK

_QUALIFIERS = frozenset({"claim-directive", "question-relay"})  # count only with a carrier
PATTERNS = STRONG  # kept for callers that list the strong patterns
_SENTENCE_RE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+[.!?]*")  # "evil.io" stays whole

# Invisible to a reader but seen by the model: zero-width, bidi overrides, word joiner,
# BOM, soft hyphen, and the Unicode "tag" block used for ASCII smuggling.
_HIDDEN_RE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad"
                        r"\U000e0000-\U000e007f]")
_BASE64_RE = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])")
_HTML_HIDDEN_RE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])|opacity\s*:\s*0(?![.\d])",
    re.IGNORECASE)

# Elements a mail client renders invisibly, and HTML comments: the reader never sees them.
_HIDDEN_ELEMENT_RE = re.compile(
    r"<(\w+)[^>]*style\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
    r"font-size\s*:\s*0(?![.\d])|opacity\s*:\s*0(?![.\d]))[^>]*>.{0,5000}?</\1\s*>"
    r"|<!--(?!\s*\[if)(?:(?!-->)[^{}]){0,5000}?-->", re.IGNORECASE | re.DOTALL)
@dataclass(frozen=True)
class InjectionReport:
    """What ``scan_input`` found. ``spans`` are (start, end) offsets into the scanned
    text judged to carry injected instructions (whole sentence to end of paragraph)."""

    suspicious: bool
    reasons: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    sanitized: str = ""

    def injected_text(self, text: str) -> list[str]:
        return [text[a:b] for a, b in self.spans]


def sanitize(text: str) -> str:
    """Make ``text`` safe to put in a prompt: drop hidden characters, NFKC-fold
    look-alikes, and defuse chat control tokens (``<|im_start|>`` etc.)."""
    out = _HIDDEN_RE.sub("", text or "")
    out = unicodedata.normalize("NFKC", out)
    out = "".join(ch for ch in out if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return _CONTROL_TOKEN_RE.sub(" ", out)


def _hidden_count(text: str) -> int:
    """Hidden characters that carry no typographic purpose. A zero-width joiner glues
    emoji sequences and an odd soft hyphen is routine, so a few are tolerated; any
    Unicode tag character (invisible ASCII smuggling) counts triple."""
    count = 0
    for ch in _HIDDEN_RE.findall(text):
        if "\U000e0000" <= ch <= "\U000e007f":
            count += 3
        elif ch not in "\u200d\u00ad":
            count += 1
    return count


def _sentence_start(text: str, pos: int) -> int:
    """Start of the sentence holding ``pos`` (after . ! ? or a line break)."""
    return max(text.rfind(ch, 0, pos) for ch in ".!?\n") + 1


def _paragraph_end(text: str, pos: int) -> int:
    """End of the paragraph holding ``pos``: a blank line or the end of the text."""
    m = re.compile(r"\n\s*\n").search(text, pos)
    return m.start() if m else len(text)


def _decoded_base64(blob: str) -> str | None:
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
    return decoded if decoded and printable / len(decoded) > 0.9 else None


def _weak_signals(sentence: str) -> set[str]:
    """Distinct weak signals in one sentence; a link and a verb like "click" count as one
    ("payload-request"), and neither counts alone — that is every newsletter.

    A claim to assert or a question to relay is everyday mail ("tell him that…", "let
    me know what…") and counts only next to a reply carrier ("in your response…");
    a signal matched only by the carrier's own words ("the correct answer is") is the
    same evidence and is not counted twice."""
    hits = {name: [m.span() for m in rx.finditer(sentence)] for name, rx in WEAK}
    hits = {name: spans for name, spans in hits.items() if spans}
    carrier = hits.get("reply-carrier", [])

    def inside_carrier(span: tuple[int, int]) -> bool:
        return any(a <= span[0] and span[1] <= b for a, b in carrier)

    found = set()
    for name, spans in hits.items():
        if name in _QUALIFIERS and not carrier:
            continue
        if name != "reply-carrier" and carrier and all(inside_carrier(s) for s in spans):
            continue
        found.add(name)
    if {"payload", "payload-verb"} <= found:
        found.add("payload-request")
    return found - {"payload", "payload-verb"}


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def scan_input(text: str) -> InjectionReport:
    """Scan hostile input (an incoming email) for instructions aimed at the model.

    Offsets in ``spans`` refer to ``text`` as given. Hidden characters are a reason on
    their own; the patterns are then matched on the text with them deleted ("ig\u200bnore"
    reads "ignore"), and spans are mapped back to the original offsets.
    """
    text = text or ""
    reasons: list[str] = []
    spans: list[tuple[int, int]] = []
    if _hidden_count(text) >= 3:
        reasons.append("hidden-characters")
    keep = [i for i, ch in enumerate(text) if not _HIDDEN_RE.match(ch)]
    visible = "".join(text[i] for i in keep)
    folded = unicodedata.normalize("NFKC", visible)
    if len(folded) == len(visible):
        visible = folded
    for m in _HIDDEN_ELEMENT_RE.finditer(visible):
        if "hidden-html" not in reasons:
            reasons.append("hidden-html")
        spans.append((m.start(), m.end()))
    for reason, rx in PATTERNS:
        covered = -1  # end of this pattern's last span: later hits inside it add nothing
        for hit in rx.finditer(visible):
            if reason not in reasons:
                reasons.append(reason)
            if hit.start() < covered:
                continue
            start = hit.start() + len(hit.group()) - len(hit.group().lstrip())
            end = _paragraph_end(visible, hit.end())
            if visible[:end].rstrip().endswith(":"):  # "...the following link:\n\nhttp://..."
                end = _paragraph_end(visible, end + 1)
            spans.append((_sentence_start(visible, start), end))
            covered = end
    for sentence in _SENTENCE_RE.finditer(visible):
        signals = _weak_signals(sentence.group())
        if len(signals) >= 2:
            name = "weak-signals:" + "+".join(sorted(signals))
            if name not in reasons:
                reasons.append(name)
            spans.append((sentence.start(), _paragraph_end(visible, sentence.end())))
    if "hidden-html" not in reasons and _HTML_HIDDEN_RE.search(visible):
        reasons.append("hidden-html")
    for hit in _BASE64_RE.finditer(visible):
        decoded = _decoded_base64(hit.group())
        if decoded is not None:
            if "base64-blob" not in reasons:
                reasons.append("base64-blob")
            spans.append((hit.start(), hit.end()))
            inner = scan_input(decoded)
            if inner.suspicious:
                reasons.extend(r for r in ("base64-" + x for x in inner.reasons) if r not in reasons)
    def original(a: int, b: int) -> tuple[int, int]:
        return (keep[a] if a < len(keep) else len(text), keep[b - 1] + 1 if b > 0 else 0)

    return InjectionReport(suspicious=bool(reasons), reasons=reasons,
                           spans=_merge([original(a, b) for a, b in spans if b > a]),
                           sanitized=sanitize(text))


def strip_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the given spans blanked out (what remains is not injected)."""
    if not spans:
        return text
    parts, last = [], 0
    for a, b in spans:
        parts.append(text[last:a])
        last = b
    parts.append(text[last:])
    return " ".join(parts)
