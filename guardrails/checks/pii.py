"""PII: no email address, phone, card number, IBAN or secret that the sources lack.

Card numbers are recognized by the Luhn checksum and IBANs by ISO 13616 mod-97, so
order numbers and long digit runs are not mistaken for them. Secrets are API-key
shaped tokens (known vendor prefixes, or long mixed letter-digit strings) and
"password: ..." phrases. The repair redacts each finding with a typed placeholder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guardrails.normalize import EMAIL_RE, PHONE_RE, clean, phone_digits, plausible_phone
from guardrails.types import CheckContext, Finding

CARD_RE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
SECRET_RES = [
    re.compile(r"\b(?:sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9_-]{16,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)\b(?:password|passwd|pwd|passcode|pin|api[_ -]?key|secret|token)"
               r"\s*(?:is|:|=)\s*[\"']?(?=\S*[\d\W_])\S{4,}"),
]
_GENERIC_TOKEN_RE = re.compile(r"(?<![\w/.-])[A-Za-z0-9_\-]{28,}(?![\w/.-])")


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(raw: str) -> bool:
    s = raw.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    num = "".join(str(int(ch, 36)) for ch in moved)
    return int(num) % 97 == 1


def _looks_random(token: str) -> bool:
    has_digit = any(c.isdigit() for c in token)
    has_upper = any(c.isupper() for c in token)
    has_lower = any(c.islower() for c in token)
    return has_digit and has_upper and has_lower and len(set(token)) >= 12


@dataclass(frozen=True)
class Hit:
    kind: str
    start: int
    end: int
    key: str


def find_pii(text: str) -> list[Hit]:
    """Emails, phones, Luhn-valid cards, valid IBANs and secret-looking tokens."""
    hits: list[Hit] = []
    for m in EMAIL_RE.finditer(text):
        hits.append(Hit("email", m.start(), m.end(), m.group().lower()))
    for m in CARD_RE.finditer(text):
        digits = phone_digits(m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            hits.append(Hit("card", m.start(), m.end(), digits))
    for m in IBAN_RE.finditer(text):
        if iban_ok(m.group()):
            hits.append(Hit("iban", m.start(), m.end(), m.group().replace(" ", "").upper()))
    for rx in SECRET_RES:
        for m in rx.finditer(text):
            hits.append(Hit("secret", m.start(), m.end(), m.group()))
    for m in _GENERIC_TOKEN_RE.finditer(text):
        if _looks_random(m.group()):
            hits.append(Hit("secret", m.start(), m.end(), m.group()))
    taken = [(h.start, h.end) for h in hits]
    for m in PHONE_RE.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        if plausible_phone(m.group()):
            hits.append(Hit("phone", m.start(), m.end(), phone_digits(m.group())[-10:]))
    return _dedupe(hits)


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """Keep the first of overlapping hits (cards/IBANs/secrets win over phones)."""
    out: list[Hit] = []
    for h in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if out and h.start < out[-1].end:
            continue
        out.append(h)
    return out


def redact(text: str, hits: list[Hit]) -> str:
    for h in sorted(hits, key=lambda h: h.start, reverse=True):
        text = text[:h.start] + f"[{h.kind}]" + text[h.end:]
    return text


class PiiCheck:
    name = "pii"

    def run(self, text: str, ctx: CheckContext) -> Finding:
        text = clean(text)
        known = ctx.memo("pii.keys", lambda: {(h.kind, h.key) for s in ctx.source_texts
                                              for h in find_pii(clean(s))})
        known_blob = ctx.memo("pii.blob", lambda: clean(" \n".join(ctx.source_texts)))
        bad = [h for h in find_pii(text)
               if (h.kind, h.key) not in known and not (h.kind == "secret" and h.key in known_blob)]
        if not bad:
            return Finding.ok()
        kinds = ", ".join(dict.fromkeys(h.kind for h in bad))
        return Finding.fail(f"{kinds} not in the sources", repaired=redact(text, bad))
