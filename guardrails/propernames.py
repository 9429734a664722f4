"""Spot likely proper names in a candidate, and decide whether the sources support them.

English capitalizes for many reasons besides names: sentence starts, "I", greetings,
sign-offs, Title Case subject lines. A word counts as a name candidate only when it
is capitalized mid-sentence ("Hi Dave", "Thanks, Dave"), is not a common word, and the
text is not in Title Case (subject lines count as Title Case from half their words). Weekdays and months are facts, handled by
``normalize``. A name is grounded if it occurs (case-insensitively) as a word of the
sources — including the parts of an email address ("bob.smith@..." grounds "Bob") —
or is a short form of a capitalized source word ("Rob" for "Robert").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from guardrails.emailtext import GREETED_NAME, SIGNED_NAME, lf
from guardrails.normalize import clean

COMMON_WORDS = frozenset("""
i i'm i'll i've i'd im ill ive id ok okay hi hello hey dear thanks thank thx ty cheers regards
best warm warmest kind kindest sincerely yours cordially sure yes yeah yep yup no nope nah great
sounds good please sorry let will would could can can't cannot should shall happy glad
looking perfect awesome cool nice absolutely definitely of course unfortunately also and but
or so the a an this that these those it its it's we we'll we're you you're you'll your yours
they they're their he she his her him me my mine us our them who what when where why how
which whose mr mrs ms miss dr prof sir madam team all everyone everybody folks guys lol lmao
haha hahaha wow oh ah ahh hmm ugh yay congrats congratulations welcome morning afternoon
evening night today tomorrow tonight yesterday weekend re fw fwd subject ps p.s inc ltd llc co
corp christmas xmas easter thanksgiving halloween new year years birthday holidays holiday
internet email e-mail online web website english noted understood agreed done got gotcha
will do right exactly true indeed really totally maybe perhaps probably if then there here
not just only still even well fine alright all right anyway however although though because
since while after before as at by for from in into on onto to up with without about over
under again once more most much many some any every each other another such same own
hope wishing wish love xoxo bye goodbye see talk speak chat soon later meanwhile attached
please-find note fyi asap eod eow tbd tba n/a na etc pm am a.m p.m god jesus lord mom mum dad
sale off free shipping now last chance don't doesn't didn't isn't aren't wasn't won't
wouldn't couldn't shouldn't that's there's here's what's let's i'd've ya y'all hiya
honestly actually seriously fortunately basically luckily clearly obviously personally
frankly hopefully finally apparently ideally sadly thankfully otherwise besides interesting
fair
""".split())  # noqa: SIM905

_CALENDAR = frozenset("""january february march april may june july august september october
november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday
thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun""".split())  # noqa: SIM905
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_SUFFIX_RE = re.compile(r"(?:['’]s|['’])$")


def _is_title_case(text: str, hits: list[re.Match], headline: bool) -> bool:
    """Most longer words capitalized where a sentence does not start (a headline)."""
    inner = [h.group() for h in hits if len(h.group()) > 3 and not _sentence_initial(text, h.start())]
    if len(inner) < (1 if headline else 3):
        return False
    return sum(1 for w in inner if w[0].isupper()) / len(inner) >= (0.5 if headline else 0.6)


def _sentence_initial(text: str, pos: int) -> bool:
    before = text[:pos].rstrip(" \t\"'“‘([{*-–—•>")
    return not before or before[-1] in ".!?:;\n"


def candidate_names(text: str, *, headline: bool = False) -> list[str]:
    """Words in ``text`` that look like proper names (see module docstring).

    ``headline`` (subject lines) makes Title Case detection stricter to trigger."""
    text = clean(text).replace("’", "'")
    hits = list(_WORD_RE.finditer(text))
    if _is_title_case(text, hits, headline):
        return []
    out: list[str] = []
    for i, hit in enumerate(hits):
        word = _SUFFIX_RE.sub("", hit.group()).strip("-")
        if len(word) < 2 or not word[0].isupper() or word.isupper():
            continue  # lower-case word, "I", or an acronym (ASAP, USA): not judged
        if word.lower() in COMMON_WORDS or word.lower().replace("’", "'") in COMMON_WORDS:
            continue
        if word.lower() in _CALENDAR or _sentence_initial(text, hit.start()):
            continue  # months/weekdays are facts (grounding); sentence starts say nothing
        if text[max(0, hit.start() - 2):hit.start()] in ("u/", "r/", "@"):
            continue  # handles and subreddits, not names
        out.append(word)
    return out


def name_keys(sources: Iterable[str]) -> tuple[frozenset, frozenset]:
    """(every lower-cased word of the sources, the capitalized ones) for grounding."""
    words: set[str] = set()
    capitalized: set[str] = set()
    for src in sources:
        src = clean(src or "").replace("’", "'")
        for addr in re.findall(r"(?<![\w.+-])[\w.+-]++@[\w.-]+", src):
            words.update(p for p in re.split(r"[^a-z]+", addr.lower().split("@")[0]) if p)
        for hit in _WORD_RE.finditer(src):
            w = _SUFFIX_RE.sub("", hit.group()).strip("-")
            words.add(w.lower())
            words.update(p.lower() for p in re.split(r"[-’']", w) if p)
            if w[:1].isupper():
                capitalized.add(w.lower())
    return frozenset(words), frozenset(capitalized)


def is_name_grounded(name: str, keys: tuple[frozenset, frozenset]) -> bool:
    words, capitalized = keys
    low = name.lower()
    if low in words or all(p in words for p in re.split(r"[-’']", low) if p):
        return True
    if len(low) >= 3:
        return any(c.startswith(low) and len(c) >= 4 for c in capitalized)
    return False


def addressed_names(text: str) -> list[str]:
    """Names in a greeting ("Hi Alex,") or under a sign-off ("Best,\\nJohn Smith").

    These say who the mail is to or from, so a wrong one is a visible error; other
    names in running text are weaker evidence (see ``candidate_names``).
    """
    text = lf(clean(text)).replace("’", "'")
    out: list[str] = []
    for rx in (GREETED_NAME, SIGNED_NAME):
        for m in rx.finditer(text):
            for word in re.split(r"[ \t]+", m.group(1)):
                word = _SUFFIX_RE.sub("", word).strip("-.")
                if (len(word) >= 2 and word[0].isupper() and not word.isupper()
                        and word.lower() not in COMMON_WORDS and word.lower() not in _CALENDAR):
                    out.append(word)
    return out
