"""Rule-built subject lines, grounded in the campaign body by construction.

Used when the model is slow, down or blocked, and as extra candidates that the
ranker weighs against the model's. Every offer, price, product and deadline is
copied verbatim from the body (never invented, never paraphrased), so the
grounding check cannot fail on them; templates only add a few claim-free words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.usecases.subjects.phrases import (
    Phrase,
    capitalize_first,
    clean_body,
    key_phrases,
    sentences,
    shorten,
)

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_DATE = (rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+"
         rf"{_MONTH}|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|{_DAY}|tonight|tomorrow|midnight|"
         rf"this (?:week(?:end)?|{_DAY}))")
_DEADLINE = re.compile(
    rf"\b(?:until|till|through|thru|by|ends?|ending|before|expires?|valid (?:until|through))"
    rf"\s+(?:on\s+|this\s+)?{_DATE}(?:\s+at\s+midnight)?|\b(?:today|tonight|this weekend) only\b"
    rf"|\b\d{{1,2}} (?:hours|days) only\b", re.IGNORECASE)
_OFFER = re.compile(
    r"(?:\bup to\s+)?\b\d{1,3}(?:\.\d+)?\s?%\s*(?:off|discount|savings?)\b"
    r"|(?:\bsave\s+)?[$€£]\s?\d[\d,]*(?:\.\d{1,2})?\s*(?:off\b)?"
    r"|\bsave\s+\d{1,3}\s?%"
    r"|\bbuy one,? get one(?: free| half off)?\b"
    r"|\bfree\s+(?:shipping|delivery|returns|gift|trial|sample|consultation|upgrade|\w+)\b"
    r"|\b(?:half|\d+\s?for\s?\d+)\s+(?:off|price)\b",
    re.IGNORECASE)
_PRODUCT_STOP = re.compile(
    r"\b(?:until|till|through|thru|by|ends?|ending|before|when|if|for|with|on|at|and|or|"
    r"this|today|now|while|in|from|to|only|plus|expires?)\b|[.,;:!?()\n]",
    re.IGNORECASE)
_LEADING_FILLER = re.compile(r"^(?:(?:on|for|across)\s+)?(?:(?:all|our|every|the|your|any|select|"
                             r"selected|sitewide|site-wide|storewide|everything)\s+)*",
                             re.IGNORECASE)
_GENERIC_PRODUCTS = frozenset(
    ["order", "orders", "purchase", "purchases", "item", "items", "everything", "product", "products", "it", "anything", "stuff"])


@dataclass(frozen=True)
class CampaignFacts:
    """What a subject line may claim, each copied verbatim from the body."""

    offer: str | None = None
    offer_phrase: str | None = None  # the offer with what it applies to, verbatim
    product: str | None = None
    deadline: str | None = None
    brand: str | None = None
    lead: str | None = None  # the first real sentence
    phrases: list[Phrase] = field(default_factory=list)


def _product_after(body: str, end: int) -> tuple[str | None, int]:
    """The product an offer applies to ("all running shoes" -> "running shoes") and
    where, in ``body``, that verbatim mention ends."""
    rest = body[end:end + 120]
    skipped = len(rest) - len(rest.lstrip())
    rest = rest.lstrip()
    filler = _LEADING_FILLER.match(rest)
    skipped += filler.end() if filler else 0
    rest = rest[filler.end():] if filler else rest
    m = _PRODUCT_STOP.search(rest)
    chunk = rest[:m.start()] if m else rest
    words = chunk.split()[:5]
    if not words or not re.search(r"[A-Za-z]{3}", " ".join(words)):
        return None, end
    product = " ".join(words)
    return product, end + skipped + rest.find(product) + len(product)


def extract_facts(body: str, brand: str | None = None) -> CampaignFacts:
    """Offer ("20% off"), product ("running shoes"), deadline ("until April 30"),
    lead sentence and key phrases of a campaign body."""
    text = clean_body(body)
    flat = " ".join(text.split())
    offer = offer_phrase = product = None
    m = _OFFER.search(flat)
    if m:
        offer = m.group(0).strip()
        product, end = _product_after(flat, m.end())
        offer_phrase = flat[m.start():end].strip() if product else offer
        if product and product.lower() in _GENERIC_PRODUCTS:
            product = None  # "free shipping on every order": the offer says it all
    d = _DEADLINE.search(flat)
    deadline = d.group(0).strip() if d else None
    phrases = key_phrases(text)
    if product is None and offer is None and phrases:
        product = phrases[0].text
    sents = sentences(text, limit=3)
    return CampaignFacts(offer=offer, offer_phrase=offer_phrase, product=product, deadline=deadline,
                         brand=(brand or "").strip() or None,
                         lead=sents[0] if sents else None, phrases=phrases)


def _templates(f: CampaignFacts, tone: str | None) -> list[str]:
    out: list[str] = []
    if f.offer and f.product:
        out += [f.offer_phrase or f"{f.offer} {f.product}",
                f"{capitalize_first(f.product)}: {f.offer}"]
        if f.deadline:
            out += [f"{f.offer_phrase} {f.deadline}",
                    f"{capitalize_first(f.product)}: {f.offer} {f.deadline}"]
        if f.brand:
            out += [f"{f.brand}: {f.offer_phrase}"]
    elif f.offer:
        out += [f.offer_phrase or f.offer]
        if f.deadline:
            out += [f"{f.offer_phrase or f.offer} {f.deadline}"]
        if f.brand:
            out += [f"{f.brand}: {f.offer_phrase or f.offer}"]
    if f.product and not f.offer:
        out += [capitalize_first(f.product)]
        if f.brand:
            out += [f"{f.brand}: {f.product}"]
        if f.deadline:
            out += [f"{capitalize_first(f.product)} {f.deadline}"]
    if f.product and (tone or "").lower() in ("playful", "casual", "friendly", "fun"):
        out += [f"Ready for {f.product}?"]
    if f.product and not f.offer:
        out += [f"About {f.product}"]
    return out


def rule_subject_lines(body: str, *, brand: str | None = None, tone: str | None = None,
                       max_chars: int = 60, limit: int = 8) -> list[str]:
    """Grounded template subject lines for a campaign, best first, each within
    ``max_chars`` (cut at word boundaries, so no number or date is ever split)."""
    facts = extract_facts(body, brand)
    raw = _templates(facts, tone)
    raw += [capitalize_first(p.text) for p in facts.phrases[:3]]
    if facts.lead:
        raw.append(facts.lead)
    out: list[str] = []
    seen: set[str] = set()
    for s in raw:
        s = capitalize_first(shorten(s, max_chars))
        key = s.lower()
        if len(s) >= 3 and key not in seen:
            seen.add(key)
            out.append(s)
        if len(out) >= limit:
            break
    if not out:
        words = " ".join(clean_body(body).split()) or "Update"
        out.append(capitalize_first(shorten(words, max_chars)) or "Update")
    return out
