"""Turn a raw model output into one short reply, or nothing.

SmolLM2-135M rambles: it announces ("Sure, here's a reply:"), quotes, writes a
subject line, greets, signs with "[Your Name]", and goes on for paragraphs.
Cleaning keeps the first one or two sentences of the actual reply, without
greeting or sign-off (``apply_style`` adds the user's own where they use them),
and rejects outputs that are empty, echo the incoming message, leak prompt
scaffolding, talk like an assistant ("I'm sorry, I can't help you with that.") or
apologize for something the email never mentions (``replies/apology.py``).
"""

from __future__ import annotations

import re

from gateway.usecases.replies.apology import ungrounded_apology
from gateway.usecases.replies.style import StyleProfile
from guardrails.emailtext import (
    ASSISTANT_TALK,
    GREETING,
    MODEL_PREAMBLE,
    SIGNOFF_LINE,
    TEMPLATE_SLOT,
    split_greeting,
    split_sentences,
    split_signoff,
    strip_emoji,
)

_LEADING_LABEL = re.compile(r"^\s*(?:\d+[.)]|[-*•]|\(?[a-c]\))\s+")
_SUBJECT_LINE = re.compile(r"^\s*(subject|re|to|from)\s*:.*$", re.IGNORECASE | re.MULTILINE)
_QUOTES = "\"'“”‘’`"
_SCAFFOLD = re.compile(r"<<<|>>>|UNTRUSTED|###|\bemail:|\bthe user\b|\bassistant\b",
                       re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9']+")


def _strip_quotes(text: str) -> str:
    t = text.strip()
    while len(t) >= 2 and t[0] in _QUOTES and t[-1] in _QUOTES:
        t = t[1:-1].strip()
    if t and t[0] in _QUOTES and t.count(t[0]) == 1:
        t = t[1:].strip()
    return t


def first_sentences(text: str, k: int) -> str:
    """The first ``k`` sentences; a one-or-two-word opener ("Sure!") does not count."""
    parts = split_sentences(text)
    if parts and len(parts[0].split()) <= 2:
        k += 1
    return " ".join(parts[:k])


def drop_unfinished(text: str) -> str:
    """Drop a trailing sentence the model did not finish (hit its token limit), when a
    finished one precedes it."""
    t = text.rstrip()
    if not t or t[-1] in ".!?)\"'”":
        return t
    parts = split_sentences(t)
    return " ".join(parts[:-1]) if len(parts) > 1 else t


def cut_to(text: str, max_chars: int) -> str:
    """Cut at the last sentence or clause end that fits; never mid-word."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    for marks in (".!?", ",;:"):
        pos = max(head.rfind(c) for c in marks)
        if pos >= max_chars * 0.4:
            out = head[: pos + 1]
            return out[:-1] + "." if out[-1] in ",;:" else out
    return head.rsplit(" ", 1)[0].rstrip(",;:-") + "…" if " " in head else head


def overlap(a: str, b: str) -> float:
    """Share of ``a``'s words that occur in ``b`` (echo detection)."""
    wa = _WORD.findall(a.lower())
    if not wa:
        return 0.0
    wb = set(_WORD.findall(b.lower()))
    return sum(w in wb for w in wa) / len(wa)


def _is_filler(para: str) -> bool:
    """A paragraph that is only a greeting, a sign-off, a name placeholder or a label."""
    bare = TEMPLATE_SLOT.sub("", para).strip(" \n,.!:-–—\"'")
    if not bare:
        return True
    if GREETING.fullmatch(para.strip() + "\n") or GREETING.fullmatch(para.strip()):
        return True
    first = bare.splitlines()[0].strip()
    return bool(SIGNOFF_LINE.match(first)) and len(bare.split()) <= 4


def clean(raw: str, *, incoming: str, max_sentences: int = 2, max_chars: int = 200) -> str | None:
    """The reply inside ``raw``, bare (no greeting/sign-off), or None if unusable."""
    text = _SUBJECT_LINE.sub("", raw or "")
    text = _strip_quotes(MODEL_PREAMBLE.sub("", text.strip(), count=1))
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    paras = [p for p in paras if not _is_filler(p)]
    if not paras:
        return None
    _, para = split_greeting(_strip_quotes(paras[0]))
    para, _ = split_signoff(para)
    lines = [_LEADING_LABEL.sub("", ln).strip() for ln in para.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not SIGNOFF_LINE.match(ln)]
    text = re.split(r"\s+(?:\d[.)]|[-*•])\s+", " ".join(lines))[0]  # inline "1. a 2. b" lists
    text = _strip_quotes(MODEL_PREAMBLE.sub("", text, count=1))
    probe = text.replace("’", "'")
    if _SCAFFOLD.search(probe) or ASSISTANT_TALK.search(probe):
        return None
    text = TEMPLATE_SLOT.sub("", text)
    text = re.sub(r"\s+", " ", text).strip(" -–—:")
    text = re.sub(r"\s+([,.!?])", r"\1", text)
    text = drop_unfinished(first_sentences(text, max_sentences))
    text = cut_to(text, max_chars)
    if len(_WORD.findall(text.lower())) < 1 or len(text) < 2:
        return None
    if any(overlap(p, incoming) > 0.7 and len(p.split()) > 4 for p in split_sentences(text)):
        return None  # the model parroted the email back
    if ungrounded_apology(text, incoming):
        return None  # "I'm sorry for the confusion." to an email that mentions none
    return text[:1].upper() + text[1:]


# Mailboxes of a role, not a person: "Hi Info," / "Dear Colleague," / "Hi Support," are
# worse than a greeting without a name.
_ROLE_WORDS = frozenset("""
info contact contacts hello hi hey support help helpdesk service services customer
customers team teams admin administrator office sales billing accounts accounting
finance payroll hr jobs careers recruiting recruitment marketing press media news
newsletter notifications alerts webmaster postmaster hostmaster root mail email
enquiries enquiry inquiries inquiry orders order shop store booking bookings
reservations events feedback legal privacy security abuse it dev devops ops
engineering research lab group staff members board secretary reception frontdesk
colleague colleagues everyone all user users partners community mailbox inbox
department dept desk management manager director the dear our your my
""".split())  # noqa: SIM905 (a word list reads best as words)


def _first_name(sender: str) -> str | None:
    """The sender's first name, from the display name or the address's first part
    (``ana.lopez@`` -> Ana); None for a role mailbox (``info@``, "Support Team")."""
    m = re.match(r'^\s*"?([A-Za-z][\w\'-]+)', sender)
    if "<" in sender and m:
        token = m.group(1)
    else:
        local = re.sub(r"<|>", "", sender).split("@", 1)[0]
        parts = [p for p in re.split(r"[._+\-]", local) if p]
        token = re.sub(r"\d+$", "", parts[0]) if parts else ""
    if not (token.isalpha() and 2 <= len(token) <= 20) or token.lower() in _ROLE_WORDS:
        return None
    return token.capitalize()


_CONTRACTIONS = {
    "can't": "cannot", "won't": "will not", "don't": "do not", "doesn't": "does not",
    "didn't": "did not", "isn't": "is not", "aren't": "are not", "i'm": "I am",
    "i'll": "I will", "i've": "I have", "i'd": "I would", "it's": "it is",
    "that's": "that is", "let's": "let us", "we'll": "we will", "you're": "you are",
    "couldn't": "could not", "wouldn't": "would not", "shouldn't": "should not",
}
_CONTRACTION_RE = re.compile(r"\b(" + "|".join(re.escape(k) for k in _CONTRACTIONS) + r")\b",
                             re.IGNORECASE)


def _expand(match: re.Match) -> str:
    word = match.group(0)
    full = _CONTRACTIONS[word.lower().replace("’", "'")]
    return full[:1].upper() + full[1:] if word[:1].isupper() else full


# Openers a lower-case writer would not capitalize (never "I", names or days).
_LOWERABLE = frozenset(
    ["yes", "yeah", "yep", "yup", "no", "nope", "sure", "ok", "okay", "sounds", "thanks", "thank", "great", "cool", "perfect", "works", "will", "can", "could", "got", "noted", "sorry", "not", "that", "this", "let", "what", "when", "where", "how", "why", "maybe", "absolutely", "definitely", "good", "nice", "fine", "haha", "lol", "all", "just", "see"])


def apply_style(text: str, style: StyleProfile, *, sender: str, max_chars: int) -> str:
    """Dress a bare reply the way this user writes: length, register, greeting, sign-off."""
    body = first_sentences(text, style.max_sentences)
    if style.formality >= 0.6:
        body = _CONTRACTION_RE.sub(_expand, body.replace("’", "'"))
        body = body.replace("!", ".")
    if not style.emoji:
        body = strip_emoji(body)
    first = body.split(" ", 1)[0].strip(",.!?").lower()
    if style.lowercase and style.formality <= 0.4 and first in _LOWERABLE:
        body = body[:1].lower() + body[1:]
    if body and body[-1].isalnum():
        body += "."
    greeting = None
    if style.greeting:
        name = _first_name(sender)
        if name:
            greeting = f"{style.greeting} {name},"
        elif style.greeting.lower() != "dear":  # "Hi," stands alone; "Dear," does not
            greeting = f"{style.greeting},"

    def dress(b: str) -> str:
        if greeting or style.signoff_own_line:  # a letter-shaped reply: one part per line
            return "\n".join(x for x in (greeting, b, style.signoff_block) if x)
        return f"{b} {style.signoff}" if style.signoff else b

    full = dress(body)
    if len(full) <= max_chars:
        return full
    room = max_chars - (len(full) - len(body))
    if room >= 20:  # keep the dressing, shorten the reply itself
        return dress(cut_to(body, room))
    return cut_to(body, max_chars)
