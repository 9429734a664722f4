"""What email text looks like: greetings, sign-offs, sentences, emoji, assistant talk.

One home for the heuristics that reply style, reply cleaning, subject lines and the
guardrails all need, so that they agree on the same text: the emoji a user's style
strips are the emoji the guardrail looks for, and a sign-off the style learns is one
the salutation check reads. Plain patterns and functions over ``str``; nothing here
imports the gateway, so every layer may use it.

Where a guardrail must stay quiet on human text but cleaning may be stricter with a
model's output, there are two tiers, the stricter built on the other:
``PREAMBLE`` < ``MODEL_PREAMBLE``, ``SELF_REFERENCE`` < ``ASSISTANT_TALK``,
``PLACEHOLDER`` < ``TEMPLATE_SLOT``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# ---- greetings and sign-offs ---------------------------------------------------------

GREETING_WORDS = ("hi", "hey", "hello", "hiya", "dear", "good morning", "good afternoon",
                  "good evening", "morning", "greetings", "yo")
SIGNOFF_WORDS = ("cheers", "thanks", "thank you", "thanks again", "many thanks", "thx", "best",
                 "best regards", "kind regards", "warm regards", "regards", "sincerely",
                 "yours sincerely", "yours truly", "yours", "all the best", "talk soon",
                 "speak soon", "take care", "warmly", "best wishes", "ttyl", "later",
                 "hugs", "xoxo", "kindest regards", "warmest regards", "with best regards",
                 "warm wishes")


def _alternation(words: Iterable[str]) -> str:
    """``best[ \\t]+regards|...|best``: longest first, any blanks between words."""
    return "|".join(r"[ \t]+".join(map(re.escape, w.split()))
                    for w in sorted(words, key=len, reverse=True))


_GREETINGS = _alternation(GREETING_WORDS)
_SIGNOFFS = _alternation(SIGNOFF_WORDS)
_NAME = r"[A-Z][\w'’-]+"

# An opening greeting, group 1 the greeting word: "Hi Bob," / "Good morning!\n".
GREETING = re.compile(
    rf"^\s*({_GREETINGS})\b"
    r"[ \t]*([A-Z][\w.'-]*( [A-Z][\w.'-]*)?)?[ \t]*[,!.:\-–—]?[ \t]*\n?",
    re.IGNORECASE)
# A body's leading greeting or address ("Hello team,", "Bob, "), for text mining.
BODY_GREETING = re.compile(
    rf"^\s*(?:(?:{_GREETINGS})\b[^,\n:]{{0,40}}[,:!\n]|[A-Z][a-z]+(?: [A-Z][a-z]+)?\s*[,:;]\s)",
    re.IGNORECASE)
# A sign-off at the very end: "Cheers, Sam" / "Best regards,\nJane Doe".
SIGNOFF = re.compile(
    rf"(?:^|(?<=[.!?\n])|(?<=[.!?)] ))[ \t]*(?P<word>{_SIGNOFFS})[ \t]*[,!.]?[ \t]*"
    r"(?:\n[ \t]*){0,2}"
    r"(?P<name>[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?)?[ \t]*[.!]?\s*$",
    re.IGNORECASE)
DASH_NAME = re.compile(r"\n?[ \t]*[-–—~][ \t]*[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?\s*$")  # "- Sam"
SIGNOFF_LINE = re.compile(rf"^(?:{_SIGNOFFS})[,!.]?$", re.IGNORECASE)  # "Best regards,"
DANGLING_SIGNOFF = re.compile(rf"\n[ \t]*(?:{_SIGNOFFS})[ \t]*[,!.]?[ \t]*$", re.IGNORECASE)
# Who a mail is addressed to or signed by: group 1 the name(s).
GREETED_NAME = re.compile(
    rf"(?:^|\n)[ \t]*(?:{_GREETINGS}|thanks|thank[ \t]+you)[ \t]*,?[ \t]+"
    rf"(?:(?:mr|mrs|ms|dr|prof)\.?[ \t]+)?((?:{_NAME})(?:[ \t]+{_NAME})?)",
    re.IGNORECASE)
SIGNED_NAME = re.compile(
    rf"(?:^|\n)[ \t]*(?:{_SIGNOFFS})[ \t]*[,!.]?[ \t]*\n[ \t]*(?:[-–—~][ \t]*)?"
    r"((?:[A-Z][\w'’-]+)(?:[ \t]+[A-Z][\w'’.-]+){0,2})[ \t]*(?=\n|$)",
    re.IGNORECASE)


def lf(text: str) -> str:
    """Line ends as ``\n``: mail arrives with CRLF (RFC 5322), the patterns read LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def split_greeting(text: str) -> tuple[str | None, str]:
    """``("Hi", "Sure, works.")`` for ``"Hi Bob, sure, works."`` (greeting word only)."""
    text = lf(text)
    m = GREETING.match(text)
    if not m or m.end() >= len(text.rstrip()):
        return None, text
    rest = text[m.end():].lstrip()
    word = " ".join(m.group(1).split())
    return word[:1].upper() + word[1:].lower(), rest[:1].upper() + rest[1:]


def split_signoff(text: str) -> tuple[str, str | None]:
    """``("Sounds good.", "Cheers, Sam")`` for ``"Sounds good. Cheers, Sam"`` (also
    ``"Best,\r\n\r\nSam"``, and after an emoticon: ``"See you :-) Cheers, Sam"``)."""
    t = lf(text).rstrip()
    m = SIGNOFF.search(t)
    if m and m.start() > 0:
        body = t[: m.start()].rstrip()
        return body, " ".join(t[m.start():].split()).replace(" ,", ",")
    m = DASH_NAME.search(t)
    if m and m.start() > 0:
        return t[: m.start()].rstrip(), t[m.start():].strip()
    return t, None


def bare_reply(text: str) -> str:
    """A reply without greeting and sign-off, on one line: what the model should imitate
    (and what the history store keeps a vector of for each reply)."""
    _, rest = split_greeting(text.strip())
    body, _ = split_signoff(rest)
    return " ".join(body.split())


# ---- sentences ---------------------------------------------------------------------

ABBREVIATIONS = frozenset([
    "corp", "inc", "ltd", "co", "dept", "assn", "bros", "mr", "mrs", "ms", "dr", "st",
    "jr", "sr", "no", "vs", "etc", "approx", "est", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri",
    "sat", "sun",
])
_END = r"(?<=[.!?])\s+(?=[A-Z0-9\"'“‘])"
_BOUNDARIES = {(semi, lines): re.compile(_END + (r"|(?<=;)\s+" if semi else "")
                                         + (r"|\s*\n\s*" if lines else ""))
               for semi in (False, True) for lines in (False, True)}


def _abbreviated(head: str, following: str) -> bool:
    """``head`` ends in an abbreviation ("Corp.", "L.A.", "No." before a number)."""
    if not head.endswith("."):
        return False
    last = head.split()[-1].rstrip(".").lower()
    if last == "no":
        return following[:1].isdigit()  # "No. 5", but "Sorry, no. I can't."
    return last in ABBREVIATIONS or "." in last


def split_sentences(text: str, *, semicolons: bool = False, newlines: bool = False) -> list[str]:
    """Sentences of ``text``, stripped: a sentence ends at . ! ? before a capital, a
    digit or a quote, but not after an abbreviation; optionally also at ``;`` and at
    line breaks."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARIES[semicolons, newlines].finditer(text):
        head = text[start:m.start()]
        line_break = newlines and "\n" in m.group()
        if not line_break and _abbreviated(head, text[m.end():]):
            continue
        out.append(head)
        start = m.end()
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


# ---- emoji -------------------------------------------------------------------------

_EMOJI_RE = re.compile(
    "(?:[0-9#*]\ufe0f?\u20e3"  # keycaps: 1️⃣
    "|[\U0001F000-\U0001FAFF\u2300-\u23FF\u2600-\u27BF\u2B00-\u2BFF\u3030\u303D\u3297\u3299])"
    "[\ufe0e\ufe0f\u200d\u20e3\U0001F3FB-\U0001F3FF]*")  # variation, joiner, skin tone
_TIDY_RE = re.compile("[\u200d\ufe0f\u20e3]")


def find_emoji(text: str) -> list[str]:
    """Every emoji in ``text`` with its selectors and joiners; (c), (R), TM, arrows and
    math symbols are typography, not emoji."""
    found = []
    for m in _EMOJI_RE.finditer(text):
        e = m.group()
        if "\u20e3" in e or e[0] >= "\U0001F000" or unicodedata.category(e[0]) in ("So", "Sk"):
            found.append(e)
    return found


def has_emoji(text: str) -> bool:
    return bool(find_emoji(text))


def strip_emoji(text: str) -> str:
    """``text`` without its emoji, spacing tidied; unchanged when it has none."""
    found = find_emoji(text)
    if not found:
        return text
    out = text
    for e in found:
        out = out.replace(e, " ")
    out = _TIDY_RE.sub("", out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    return re.sub(r"\s+([.,!?;:])", r"\1", out).strip()


# ---- assistant talk and template slots --------------------------------------------------

_OPENER = r"(?:(?:sure|certainly|of course|absolutely|okay|ok|great)[!,.]*\s*)?"
_KIND = (r"(?:reply|response|answer|suggestion|subject(?:\s+line)?|email|message|draft|"
         r"option|version|variant)s?")
_HERE_IS = (r"here(?:'s|\s+is|\s+are)\s+(?:a|an|the|some|your|my|three|\d+)?\s*(?:short\s+|"
            r"brief\s+|possible\s+|suggested\s+|polite\s+|professional\s+|quick\s+)*"
            + _KIND + r"\b[^:\n]{0,60}[:\n]")
_LABEL = r"(?:reply|response|answer|subject(?:\s+line)?|output)\s*(?:\d+)?\s*:"
# The model announcing its output: "Sure! Here's a short reply:", "Subject line 2:".
PREAMBLE = re.compile(rf"^\s*{_OPENER}(?:{_HERE_IS}|{_LABEL})\s*", re.IGNORECASE)
# ... and what only a model's output is stripped of ("Here's what I'd say:", "Reply -",
# "I'd respond with:"): people write these too, so the guardrail does not.
MODEL_PREAMBLE = re.compile(
    rf"^\s*{_OPENER}(?:here(?:'s|\s+is|\s+are)\b[^:\n]{{0,60}}[:\n]"
    r"|(?:(?:a|my|the)\s+)?(?:(?:short|brief|possible|suggested)\s+)?"
    r"(?:reply|response|answer|email|subject(?:\s+line)?|output)(?:\s*\d+)?\s*[:\-]"
    r"|i\s+(?:would|'d)\s+(?:reply|respond|say|write)(?:\s+with)?[^:\n]{0,20}[:\n])\s*",
    re.IGNORECASE)
# The assistant's closing offer: "I hope this helps", "Let me know if you'd like changes".
TRAILER = re.compile(
    r"(?:I hope (?:this|that) helps|Let me know if you(?:'d| would)? (?:like|want|need) "
    r"(?:any )?(?:changes|adjustments|another|more|me to)|Feel free to (?:adjust|modify|edit))"
    r"[^\n]*$", re.IGNORECASE)
# Talking about itself as an AI: never the user's words, never repairable.
SELF_REFERENCE = re.compile(
    r"\bas\s+an?\s+(?:ai|artificial intelligence|language model|llm|assistant|chatbot)\b"
    r"|\bas\s+an?\s+(?:[\w-]+\s+){1,3}(?:ai|language model|chatbot)(?=\s*[,;.]|\s+i\b)"
    r"|\bI(?:'m| am)\s+(?:just\s+)?an?\s+(?:ai|language model|llm|virtual assistant|chatbot)\b"
    r"|\bI\s+(?:cannot|can't|am unable to)\s+(?:browse|access)\s+(?:the\s+)?(?:internet|emails?)\b"
    r"|\bmy\s+(?:training|knowledge)\s+(?:data|cutoff)\b", re.IGNORECASE)
# ... plus refusals and offers of help, which in a model's draft reply are never the reply.
ASSISTANT_TALK = re.compile(
    SELF_REFERENCE.pattern
    + r"|\ban\s+ai\s+(?:language\s+)?model\b|\blanguage\s+model\b"
    r"|\bi'm\s+(?:just\s+)?an?\s+(?:ai|assistant)\b"
    r"|\bi\s+(?:can't|cannot|can\s+not)\s+(?:help|assist)\s+with\s+(?:that|this)\b"
    r"|\bi\s+(?:can't|cannot|can\s+not|am\s+unable\s+to)\s+(?:help|assist)\s+you"
    r"(?:\s+with\s+(?:that|this|it))?(?=\s*[.!,;]|\s*$)"
    r"|\bi\s+(?:can't|cannot|can\s+not)\s+answer\s+(?:that|this|your\s+question|for\s+you)\b"
    r"|\bi\s+(?:don't|do\s+not)\s+have\s+(?:an?|any|the|that)\s+(?:answer|response)\b"
    r"|\bi\s+(?:don't|do\s+not)\s+have\s+(?:an?|any)\s+e-?mail(?:\s+address)?\b"
    r"|\bi\s+(?:don't|do\s+not)\s+have\s+(?:any\s+)?information\s+(?:about|on|regarding)\b"
    r"|\bhow\s+can\s+i\s+(?:help|assist)\s+you\b"
    r"|\bi\s+(?:do\s+not|don't)\s+have\s+the\s+(?:ability|capability)\b",
    re.IGNORECASE)
# Template slots the model failed to fill: "[Your Name]", "[Date]", "<name>", "{company}".
PLACEHOLDER = re.compile(
    r"\[(?:your|my|their|recipient(?:'s)?|sender(?:'s)?|insert|company|first|last|full)?\s*"
    r"(?:name|date|time|company|title|position|number|phone|email|address|link|signature)"
    r"(?:\s+(?:name|here|number))?\]"
    r"|(?-i:\[[A-Z][a-z]+(?:\s[A-Z][a-z]+){1,2}\])(?!\()"  # "[Company Name]"; not "[Urgent]"
    r"|<(?:your\s+)?name>|\{\{?\s*\w+\s*\}?\}", re.IGNORECASE)
# ... and, in a model's draft reply, any short bracketed span ("[Recipient]", "<time>").
TEMPLATE_SLOT = re.compile(
    PLACEHOLDER.pattern + r"|\[[^\]]{1,40}\]|\{[^}]{1,40}\}|<[^>]{1,40}>", re.IGNORECASE)


# Words that carry no topic in an email (function words, greetings, mail jargon):
# subject-line phrase mining and the injection-echo check skip them alike.
STOPWORDS = frozenset(["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "either", "else", "ever", "every", "few", "for", "from", "further", "get", "got", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "let", "like", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "no", "nor", "not", "now", "of", "on", "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "per", "please", "re", "same", "shall", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "thus", "to", "too", "under", "until", "up", "upon", "us", "very", "via", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "yet", "you", "your", "yours", "yourself", "yourselves", "hi", "hello", "hey", "dear", "thanks", "thank", "regards", "best", "cheers", "fyi", "pls", "ok", "okay", "yes", "sure", "also", "attached", "attach", "attachment", "enclosed", "know", "think", "want", "wanted", "need", "needs", "going", "go", "see", "look", "let", "would", "like", "just", "one", "two", "new", "make", "made", "sent", "send", "take", "give", "well", "still", "back", "sorry", "hope", "sound", "sounds", "good", "great", "regarding", "re", "fw", "fwd", "forward", "forwarded", "message", "original", "cc", "ends", "ending", "expires"])
