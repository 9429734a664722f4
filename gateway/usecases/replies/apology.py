"""An apology the email gives no cause for: the embedded model's support-desk habit.

SmolLM2-135M opens many replies with "I'm sorry for the confusion.", "I apologize for
the inconvenience." or "I'm sorry for your loss." whatever it was sent. A person who
answers "Are we still on for lunch?" that way sounds broken, and a condolence nobody
asked for is worse than no suggestion. So a model reply that apologizes is kept only
when the incoming email (subject and body) gives the apology a cause: a problem, a
delay, a confusion, bad news, or a request the reply turns down ("Sorry, I can't make
it."); or when the reply itself says what the writer is sorry for ("Sorry, I missed it."). The general response set's "I'm so sorry." is held to the same rule. The user's
own past replies and the canned replies are not: the first are the user's words, the
second are chosen by the email's intent.
"""

from __future__ import annotations

import re

_APOLOGY = re.compile(
    r"\b(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:so\s+|very\s+|really\s+|truly\s+|deeply\s+)?"
    r"sorry\b|\b(?:i|we)\s+(?:do\s+|sincerely\s+)?apologi[sz]e\b|\b(?:my|our)\s+apologies\b"
    r"|^\s*(?:so\s+)?sorry\b|^\s*apologies\b", re.IGNORECASE)

# What an apology is for -> what in the email gives it cause.
_BAD_NEWS = (r"pass(?:ed)?\s+away|died|dead|death|funeral|condolence|loss|lost|sick|\bill\b"
             r"|hospital|surgery|injur\w*|accident|divorce|laid\s+off|fired|sad\w*")
_DELAY = (r"delay\w*|late|still\s+(?:waiting|need|haven't)|wait\w*|yet\b|haven't\s+heard"
          r"|no\s+(?:reply|response|answer)|follow(?:ing)?[\s-]up|remind\w*|overdue|asap|urgent")
_CONFUSION = (r"confus\w*|misunderst\w*|unclear|clarif\w*|what\s+do\s+you\s+mean"
              r"|did\s+you\s+mean|not\s+sure\s+what|which\s+one|wrong|mistake\w*|incorrect")
_PROBLEM = (r"problem\w*|issue\w*|error\w*|bug\w*|broken|break\w*|fail\w*|crash\w*|wrong"
            r"|mistake\w*|incorrect|complain\w*|inconvenien\w*|trouble\w*|unhappy|disappoint\w*"
            r"|frustrat\w*|upset|angry|annoy\w*|refund|cancel\w*|missing|missed|damag\w*"
            r"|doesn't\s+work|not\s+working|can't|cannot|couldn't|unable|hurt\w*|cry\w*")
_CAUSES: tuple[tuple[re.Pattern, re.Pattern], ...] = tuple(
    (re.compile(rf"\b(?:for|about)\s+(?:the|any|your|this|that|my|our)?\s*(?:{what})",
                re.IGNORECASE),
     re.compile(rf"\b(?:{cause})", re.IGNORECASE))
    for what, cause in (
        (r"loss|passing|news", _BAD_NEWS),
        (r"(?:late\s+|slow\s+)?(?:delay|wait|late|slow)\w*", _DELAY + "|" + _PROBLEM),
        (r"confusion|misunderstanding|mix-?up", _CONFUSION + "|" + _PROBLEM),
        (r"inconvenience|trouble|error|mistake|problem|issue\w*|frustration", _PROBLEM),
    ))
# Any cause at all, for an apology that names none ("I'm sorry.", "Sorry about that.").
_ANY_CAUSE = re.compile(rf"\b(?:{_BAD_NEWS}|{_DELAY}|{_CONFUSION}|{_PROBLEM}"
                        r"|sorry|apolog\w*|unfortunately|bad\s+news|not\s+good|terrible|awful)",
                        re.IGNORECASE)
# "Sorry, I missed it.", "Sorry I'm late": the reply says the writer missed, forgot or is
# late; that needs no cause in the email. Only these few accounts: the model makes up
# others ("I'm sorry, I was just going to the bathroom.", "... I didn't remember your name.").
_OWN_ACCOUNT = re.compile(
    r"\bsorry\W+(?:but\s+)?(?:i|we)\s+(?:(?:completely|totally)\s+)?(?:forgot|missed"
    r"|overslept|lost\s+track)\b"
    r"|\bsorry\W+(?:i'm|i\s+am|we're|we\s+are)\s+(?:late|running\s+late|behind)\b",
    re.IGNORECASE)
# "Sorry, I can't make it": the apology is for the reply's own "no" to what was asked.
_DECLINE = re.compile(r"\b(?:can't|cannot|can\s+not|won't|couldn't|unable|not\s+able|"
                      r"not\s+sure|don't\s+know|do\s+not\s+know|have\s+to\s+pass|no\b)",
                      re.IGNORECASE)
_ASKED = re.compile(r"\?|\b(?:can|could|would|will)\s+you\b|\bplease\b|\blet\s+me\s+know\b"
                    r"|\b(?:join|invite\w*|come|attend)\b", re.IGNORECASE)


def ungrounded_apology(reply: str, incoming: str) -> bool:
    """True when ``reply`` apologizes and nothing in ``incoming`` gives it cause."""
    reply, incoming = reply.replace("’", "'"), incoming.replace("’", "'")
    if not _APOLOGY.search(reply):
        return False
    for what, cause in _CAUSES:
        if what.search(reply):
            return not cause.search(incoming)
    if _OWN_ACCOUNT.search(reply) or (_DECLINE.search(reply) and _ASKED.search(incoming)):
        return False
    return not _ANY_CAUSE.search(incoming)
