"""Rule-based smart replies: the answer when the model is slow, down or rejected.

Two sources, as in production smart-reply systems:

1. The user's own short past replies whose original messages are most similar to
   the incoming one (dual-encoder response retrieval, Henderson et al. 2017): the
   caller scores ``(context, reply)`` pairs by embedding similarity and passes
   them in; ``personal_candidates`` keeps the short, reusable ones.
2. Canned replies per message intent (question, scheduling, request, thanks,
   FYI, ...), each with positive / negative / question variants so that any
   three of them differ in meaning.

``reply_intent`` labels any candidate reply (model or rules) with the intent it
expresses; selection uses it to never serve two replies of one intent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.usecases.replies.apology import ungrounded_apology
from gateway.usecases.replies.responses import GENERAL, GENERAL_FOR, QUESTION_DISCOUNT
from guardrails.emailtext import bare_reply, split_sentences
from guardrails.propernames import candidate_names

# ---- message intents -------------------------------------------------------------

_SCHEDULING = re.compile(
    r"\b(meet(ing)?|call|catch up|schedule|reschedul\w*|move (it|our|the)|calendar|available|"
    r"availability|free (on|at|this|next|tomorrow)|lunch|coffee|dinner|drinks)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(r"\b((mon|tues|wednes|thurs|fri|satur|sun)day|tomorrow|tonight|next week|"
                   r"this week|\d{1,2}(:\d\d)?\s*(am|pm))\b", re.IGNORECASE)
_TASK = re.compile(r"\b(send|review|sign|approve|share|forward|fix|update|check|look (at|into)|"
                   r"finish|prepare|write|call me)\b", re.IGNORECASE)
_REQUEST = re.compile(
    r"\b(please|could you|can you|would you|will you|need you to|send (me|over)|"
    r"let me know|review|take a look|look into|sign|approve|share)\b",
    re.IGNORECASE,
)
_THANKS = re.compile(r"\b(thanks|thank you|thx|appreciate(d)?|grateful)\b", re.IGNORECASE)
_APOLOGY = re.compile(r"\b(sorry|apologi[sz]e|my bad|my mistake)\b", re.IGNORECASE)
_GOOD_NEWS = re.compile(
    r"\b(got the job|promot\w+|engaged|married|new baby|we won|passed|accepted|"
    r"congrat\w*|good news|great news|excited to (share|announce))\b",
    re.IGNORECASE,
)
_SOCIAL = re.compile(r"\b(how are you|how('s| is) it going|how have you been|hope you('re| are) "
                     r"(well|doing well|good))\b", re.IGNORECASE)
_FYI = re.compile(r"\b(fyi|heads[- ]up|just so you know|reminder|update[ds]?|attached|"
                  r"announce\w*|note that|please note|will be (down|closed|out|away|off)|"
                  r"scheduled|maintenance|deadline|moved to|has been|have been)\b", re.IGNORECASE)
_YES_NO = re.compile(r"(^|[.!?]\s+)(can|could|would|will|do|does|did|is|are|was|should|shall|"
                     r"have|has|may|any chance|are you|is it|want to|wanna)\b[^.!?]*\?",
                     re.IGNORECASE)
_WH = re.compile(r"\b(what|when|where|which|who|why|how)\b[^.!?]*\?", re.IGNORECASE)

MESSAGE_INTENTS = ("scheduling", "request", "yes_no_question", "open_question", "thanks",
                   "apology", "good_news", "social", "fyi", "opinion")


def message_intent(text: str) -> str:
    """The main intent of an incoming message (first rule that fires, most specific first)."""
    t = " ".join((text or "").split())[:2000]
    question = "?" in t
    if _GOOD_NEWS.search(t):
        return "good_news"
    if (question or _REQUEST.search(t)) and (
            _SCHEDULING.search(t) or (_WHEN.search(t) and not _TASK.search(t))):
        return "scheduling"
    if _SOCIAL.search(t) and question:
        return "social"
    if _REQUEST.search(t) and (question or re.search(r"\bplease\b", t, re.IGNORECASE)):
        return "request"
    if _YES_NO.search(t):
        return "yes_no_question"
    if question and _WH.search(t):
        return "open_question"
    if question:
        return "yes_no_question"
    if _APOLOGY.search(t):
        return "apology"
    if _THANKS.search(t):
        return "thanks"
    if _FYI.search(t):
        return "fyi"
    return "opinion"  # a remark or an opinion: agree / disagree / ask


# ---- canned replies: (reply intent, text), listed in serving order ------------------

CANNED: dict[str, tuple[tuple[str, str], ...]] = {
    "scheduling": (("positive", "Sure, that works for me."),
                   ("negative", "Sorry, I can't make that time."),
                   ("question", "Could we do another time?"),
                   ("ack", "Let me check my calendar and get back to you.")),
    "request": (("positive", "Sure, I'll take care of it."),
                ("negative", "Sorry, I can't do that right now."),
                ("question", "When do you need it by?"),
                ("ack", "Got it, I'll take a look.")),
    "yes_no_question": (("positive", "Yes, sounds good."),
                        ("negative", "No, sorry."),
                        ("ack", "Let me check and get back to you."),
                        ("question", "What did you have in mind?")),
    "open_question": (("ack", "Let me check and get back to you."),
                      ("negative", "I'm not sure, sorry."),
                      ("question", "What do you think?"),
                      ("positive", "Good question, I'll find out.")),
    "thanks": (("positive", "You're welcome!"),
               ("ack", "Happy to help."),
               ("question", "Anything else you need?")),
    "apology": (("positive", "No worries at all."),
                ("ack", "Thanks for letting me know."),
                ("question", "Is everything okay?")),
    "good_news": (("positive", "Congratulations, that's great news!"),
                  ("thanks", "Thanks for sharing!"),
                  ("question", "How are you going to celebrate?")),
    "social": (("positive", "I'm doing well, thanks! How about you?"),
               ("ack", "All good here, thanks for asking."),
               ("negative", "Busy week, but hanging in there.")),
    "fyi": (("thanks", "Thanks for letting me know."),
            ("positive", "Sounds good."),
            ("question", "Any update on this?"),
            ("ack", "Got it.")),
    "opinion": (("positive", "That's true, I agree."),
                ("negative", "I don't think that's right."),
                ("question", "What do you mean by that?"),
                ("thanks", "Thanks for sharing.")),
}

# Generic replies that fit most messages: served only to fill ``n`` when the message's
# own canned replies (three or four) and the model's could not.
FILLERS: tuple[tuple[str, str], ...] = (("thanks", "Thanks for your message."),
                                        ("ack", "I'll get back to you soon."),
                                        ("ack", "Got it, thanks."))

# ---- reply intents -------------------------------------------------------------------

REPLY_INTENTS = ("positive", "negative", "question", "thanks", "ack", "other")
_NEG = re.compile(r"\b(no|nope|nah|not|sorry|unfortunately|can't|cannot|can not|won't|"
                  r"wouldn't|don't|doesn't|unable|decline|busy|afraid|pass)\b", re.IGNORECASE)
_POS = re.compile(r"\b(yes|yeah|yep|yup|sure|sounds good|works|great|ok|okay|will do|"
                  r"absolutely|of course|happy to|perfect|agree|definitely|love|glad|"
                  r"congrat\w*|welcome|no problem|no worries|fine|good)\b", re.IGNORECASE)
_ACK = re.compile(r"\b(got it|noted|understood|i see|let me (check|see|look)|will (check|look)|"
                  r"get back to you|i'll (check|look|see))\b", re.IGNORECASE)
_THANK_START = re.compile(r"^\W*(thanks|thank you|thx|many thanks|much appreciated)\b",
                          re.IGNORECASE)


def reply_intent(text: str) -> str:
    """What a reply says: ``positive``, ``negative``, ``question``, ``thanks``, ``ack``, ``other``."""
    t = " ".join((text or "").split())
    first = next(iter(split_sentences(t)), "")
    if t.rstrip().endswith("?") and not _POS.match(first) and not _NEG.match(first):
        return "question"
    neg = re.sub(r"\bno (problem|worries)\b", "", first, flags=re.IGNORECASE)
    if _NEG.search(neg):
        return "negative"
    if _ACK.search(first):
        return "ack"
    if _THANK_START.match(first):
        return "thanks"
    if _POS.search(first):
        return "positive"
    if t.rstrip().endswith("?"):
        return "question"
    return "other"


# ---- candidates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A past exchange of the user: the message they got and what they answered."""

    id: str
    context: str
    reply: str
    similarity: float  # incoming message vs ``context`` (cosine)


@dataclass(frozen=True)
class RuleReply:
    text: str
    intent: str  # reply intent
    prior: float  # 0..1, how much the rule trusts itself (personal > canned)
    origin: str  # "personal" or "canned:<message intent>"
    context_id: str | None = None


# "Grisha, another reminder": a past reply that opens by addressing its old recipient.
_VOCATIVE = re.compile(r"^([A-Z][a-z'’-]+), (?=\S)")
# "Thanks Archie!", "Thank you so much, Maria." at the start: thanks said to a person.
_THANKED = re.compile(r"^((?:many\s+)?thanks(?:\s+(?:a\s+lot|so\s+much))?"
                      r"|thank\s+you(?:\s+(?:so|very)\s+much)?)(?:,)?\s+([A-Z][a-z'’-]+)(?=[!.,])",
                      re.IGNORECASE)


def reusable(text: str, *, own_names: Sequence[str] = ()) -> str:
    """A past reply as it can be served to someone else: without the name of whoever it
    answered then ("Grisha, another reminder." -> "Another reminder."; a leading
    "Name, " whose word is a name; "Thanks Archie! ..." -> "Thanks! ...") and without the
    user's own name left at its end ("... the position. David." -> "... the position.";
    the sign-off is redone)."""
    m = _THANKED.match(text)
    if m and m.group(2) not in own_names and candidate_names(f"and {m.group(2)}"):
        text = m.group(1) + text[m.end():]
    m = _VOCATIVE.match(text)
    # A name by the guardrails' own judge (not a common word, weekday, month, acronym),
    # asked mid-sentence, where a capital means something.
    if m and candidate_names(f"and {m.group(1)}"):
        rest = text[m.end():]
        text = rest[:1].upper() + rest[1:]
    for name in own_names:
        m = re.search(rf"(?<=[.!?])\s+{re.escape(name)}[.!]?$", text)
        if m:
            text = text[:m.start()]
    return text


def personal_candidates(pairs: Sequence[Pair], *, min_similarity: float = 0.45,
                        max_words: int = 14, own_names: Sequence[str] = ()) -> list[RuleReply]:
    """The user's own short replies to messages like this one, best match first, made
    ``reusable`` (``own_names``: the user's own, e.g. from their sign-off)."""
    out: list[RuleReply] = []
    seen: set[str] = set()
    for p in sorted(pairs, key=lambda p: -p.similarity):
        text = reusable(bare_reply(p.reply) or " ".join(p.reply.split()), own_names=own_names)
        key = text.lower().strip(" .!")
        if (p.similarity < min_similarity or not text or len(text.split()) > max_words
                or key in seen or "http" in text.lower()):
            continue
        seen.add(key)
        out.append(RuleReply(text=text, intent=reply_intent(text),
                             prior=min(0.5 + p.similarity / 2, 0.95), origin="personal",
                             context_id=p.id))
    return out


def canned_candidates(message_text: str) -> list[RuleReply]:
    """Canned replies for the message's intent, in serving order (distinct intents), then
    the general response set when the message is a remark or a question."""
    intent = message_intent(message_text)
    out = [RuleReply(text=text, intent=ri, prior=0.5 - 0.05 * i, origin=f"canned:{intent}")
           for i, (ri, text) in enumerate(CANNED[intent])]
    if intent in GENERAL_FOR:
        discount = 0.0 if intent == "opinion" else QUESTION_DISCOUNT
        out += [RuleReply(text=text, intent=ri, prior=round(prior - discount, 3),
                          origin="general") for ri, text, prior in GENERAL
                if not ungrounded_apology(text, message_text)]  # "I'm so sorry." needs cause
    return out


def filler_candidates() -> list[RuleReply]:
    """The generic ``FILLERS``, below every canned reply."""
    return [RuleReply(text=text, intent=ri, prior=0.3 - 0.05 * i, origin="filler")
            for i, (ri, text) in enumerate(FILLERS)]
