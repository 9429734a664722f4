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

# Invisible to a reader but seen by the model: zero-width, bidi overrides, word joiner,
# BOM, soft hyphen, and the Unicode "tag" block used for ASCII smuggling.
_HIDDEN_RE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad"
                        r"\U000e0000-\U000e007f]")
_CONTROL_TOKEN_RE = re.compile(
    r"<\|[^|>]{0,40}\|>|\[/?INST\]|<</?SYS>>|</?s>|<\s*/?\s*(?:system|assistant|user)\s*>",
    re.IGNORECASE)
_BASE64_RE = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])")
_HTML_HIDDEN_RE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])|opacity\s*:\s*0(?![.\d])",
    re.IGNORECASE)

# Elements a mail client renders invisibly, and HTML comments: the reader never sees them.
_HIDDEN_ELEMENT_RE = re.compile(
    r"<(\w+)[^>]*style\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
    r"font-size\s*:\s*0(?![.\d])|opacity\s*:\s*0(?![.\d]))[^>]*>.{0,5000}?</\1\s*>"
    r"|<!--(?!\s*\[if)(?:(?!-->)[^{}]){0,5000}?-->", re.IGNORECASE | re.DOTALL)
_V_IGNORE = r"(?:ignore|disregard|forget|override|bypass|skip|drop)"
_PREVIOUS = r"(?:all\s+|any\s+|the\s+|your\s+|of\s+)*(?:previous|prior|above|earlier|preceding|former|original|system|existing)?"
# Not "message"/"email": "please disregard the previous message" is ordinary mail.
_RULES = r"(?:instructions?|prompts?|rules|directions|guidelines|commands?|constraints)"
# (reason, pattern): each is something written to a model, not to a person.
PATTERNS: list[tuple[str, re.Pattern]] = [
    ("ignore-instructions", re.compile(rf"\b{_V_IGNORE}\s+{_PREVIOUS}\s*{_RULES}", re.I)),
    ("new-instructions", re.compile(
        r"\b(?:new|updated|real|actual|hidden|secret)\s+(?:instructions?|system\s+prompt|task)\b"
        r"|\binstructions?\s+(?:for|to)\s+(?:the\s+)?(?:ai|assistant|model|bot|llm)\b", re.I)),
    ("role-tag", re.compile(r"^[ \t>]*(?:#+[ \t]*)?(?:system|assistant|developer|instruction|"
                            r"user)[ \t]*(?:prompt)?[ \t]*:", re.I | re.M)),
    ("control-token", _CONTROL_TOKEN_RE),
    ("persona-override", re.compile(
        r"\byou\s+are\s+(?:now|no\s+longer)\s+(?:an?\s+|in\s+)?(?:ai\b|assistant|bot\b|model|dan\b|"
        r"unrestricted|unfiltered|uncensored|jailbroken|evil|free\s+(?:from|of)|bound|restricted|"
        r"limited|required|developer|admin|system)|\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:are|were)\s+)?"
        r"(?:an?\s+)?(?:ai|assistant|dan|system|admin|developer|unrestricted|jailbroken)\b"
        r"|\bpretend\s+(?:to\s+be|you\s+are)\b|\bdeveloper\s+mode\b|\bjailbr(?:eak|oken)(?:s|ing)?\b|\bdo\s+anything\s+now\b",
        re.I)),
    ("addressed-to-model", re.compile(
        r"\b(?:dear|attention|note\s+to(?:\s+the)?|hey|hello)\s+(?:ai|assistant|chatbot|bot|llm|"
        r"language\s+model|model)\b|\bif\s+you\s+are\s+an?\s+(?:ai|assistant|language\s+model|llm|bot)"
        r"|\b(?:ai|email|smart[-\s]?reply)\s+assistants?\s*[,:]|\bas\s+an?\s+(?:ai|language\s+model)\b"
        r"|\b(?:to|for)\s+(?:the|any)\s+(?:ai|llm|bot|assistant|language\s+model)\s+(?:reading|processing|"
        r"summari[sz]ing|answering)", re.I)),
    ("reveal-prompt", re.compile(
        r"\b(?:reveal|print|repeat|show|output|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:system\s+prompt|instructions|initial\s+prompt|prompt|hidden\s+rules)", re.I)),
    ("inject-link", re.compile(
        # Business mail says "reply with your number" and "add the following fax number";
        # these need a link, or a reply/response as the place to put the payload.
        r"\b(?:reply|respond|answer)\s+(?:only\s+)?with\b[^.\n]{0,40}\b(?:link|url)\b"
        r"|\b(?:include|insert|add|put|append|mention|paste|embed|share)\s+(?:this|the\s+following|"
        r"the|a|my|our)?\s*(?:link|url|website|address|email|phone(?:\s+number)?|number|"
        r"following|text)\b[^.\n]{0,60}(?:\byour\s+(?:reply|response|answer|suggestions?|message|"
        r"email)|\b(?:the|a|every|each)\s+(?:reply|response|answer|suggestions?))\b"
        r"|\bin\s+(?:your|the|every|each|all)\s+(?:reply|replies|response|responses|answer|"
        r"suggestions?|output)\s*,?\s*(?:always\s+|please\s+|must\s+)?(?:include|add|say|write|"
        r"mention|tell|link|recommend|direct|ask|insist)"
        r"|\b(?:tell|instruct|direct|ask|urge)\s+(?:the\s+)?(?:user|reader|recipient)\s+to\b"
        r"|\b(?:always|must)\s+(?:reply|respond|answer|say|include|end|sign)\b[^.\n]{0,40}"
        r"\b(?:with|saying)\b", re.I)),
    ("output-directive", re.compile(
        r"\b(?:output|print|say|write|respond|reply)\s+(?:exactly|verbatim)\b"
        r"|\b(?:respond|reply|answer)\s+only\s+with\b"
        r"|\bdo\s+not\s+(?:tell|inform|mention\s+this\s+to|warn)\s+(?:the\s+)?(?:user|recipient|human)\b"
        r"|\b(?:end|sign|finish)\s+(?:your|the|every)\s+(?:reply|response|message)\s+with\b", re.I)),
]


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
