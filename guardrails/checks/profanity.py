"""Profanity: swear words and slurs, matched on whole words only.

The word list is better-profanity's, minus words that are ordinary in business email
("kill", "hell", "drunk", "organ", "stroke", "screw") — those would make the check
block normal text. Matching is per word (after undoing l33t spellings), so
"Scunthorpe", "assessment" or "cocktail" never match. The repair censors with
better-profanity itself.
"""

from __future__ import annotations

import functools
import re

from guardrails.normalize import clean
from guardrails.types import CheckContext, Finding

# Ordinary or context-dependent words in better-profanity's list (it aims at chat
# moderation; we check professional email, where these are normal vocabulary).
ALLOWED = frozenset("""
god hell damn crap drunk fat gay kill murder stupid ugly omg lmao lmfao wtf weed virgin naked
nude lust lusty lusting hump knob nob screw screwed snatch wang willy willies tit pee poop fart
breasts sex sexual kinky erotic hooker rape raped crack dope junk bang beaver balls escort pot
potty organ revue sandbar seaman seamen maxi pawn stroke strip slave slope sniper thrust dummy
pasty paddy prude rum vodka vomit urine uterus womb hemp heroin hitler hiv leper menses meth oral
orally ovary ovum ovums racy moron nimrod ninny jerk jerked foobar fubar facial cowgirl erect
fondle gringo hooch hookah doofus herpes tinkle toots tramp trashy undies unwed weirdo valium
viagra len xx nappy napalm massa steamy seduce sissy schizo stoned thug teat toke wad woody
wazoo whiz niggle homey herp teste testes testis loin loins lube hymen pubic penile labia
rectal rectum nipple nipples crotch bimbo dink dinks dopey dumass dummy flange floozy
freex gae gai ganja hebe heshe hoar hobag homo inbred incest junkie junky kraut lech
milf mofo molest nazi nazism opiate opium orgies orgy pcp peyote pimp pinko playboy pms
prig pube queer queers quicky reich reefer sadism sadist scag scum skag sleaze sleazy
smut snuff sodom souse soused spac strip swinger tampon tawdry teez terd tosser turd
tush vixen voyeur vulgar vulva wench whitey whiz woody yury stfu gtfo pms doggin dogging
duche weiner suck sucks sucked sucking
""".split())  # noqa: SIM905

_LEET = str.maketrans({"@": "a", "4": "a", "$": "s", "5": "s", "0": "o", "1": "i", "!": "i",
                       "3": "e", "7": "t", "+": "t", "*": "u"})
_TOKEN_RE = re.compile(r"[A-Za-z0-9@$!*+]+(?:[-_.][A-Za-z0-9@$!*+]+)*")


@functools.lru_cache(maxsize=1)
def blocked_words() -> frozenset[str]:
    """better-profanity's list (loaded on first use, not at import) minus ALLOWED."""
    from better_profanity.utils import get_complete_path_of_file, read_wordlist

    words = read_wordlist(get_complete_path_of_file("profanity_wordlist.txt"))
    return frozenset(w.lower() for w in words if w.lower() not in ALLOWED)


def profane_words(text: str) -> list[str]:
    banned = blocked_words()
    found = []
    tokens = [t for t in _TOKEN_RE.findall(clean(text))]
    for i, tok in enumerate(tokens):
        low = tok.lower()
        forms = {low, low.translate(_LEET), re.sub(r"[-_.]", "", low),
                 re.sub(r"[-_.]", "", low).translate(_LEET)}
        if any(f in banned for f in forms):
            found.append(tok)
        elif i + 1 < len(tokens) and f"{low} {tokens[i + 1].lower()}" in banned:
            found.append(f"{tok} {tokens[i + 1]}")
    return found


class ProfanityCheck:
    name = "profanity"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        found = profane_words(text)
        if not found:
            return Finding.ok()
        repaired = text
        for word in found:
            repaired = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", "*" * len(word), repaired)
        return Finding.fail(f"{len(found)} profane word(s)", repaired=repaired)
