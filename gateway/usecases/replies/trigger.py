"""Should this message get reply suggestions at all?

As in Gmail's Smart Reply, a cheap filter runs first: nobody answers a newsletter,
a no-reply notification or bulk mail, and a suggestion to a 10,000-word body
would be noise. Signals, strongest first: headers (List-Unsubscribe, Precedence:
bulk/list/junk, Auto-Submitted), the sender address (no-reply, mailer-daemon,
notifications@...), then body footers ("unsubscribe", "view in browser").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.schemas.smart_replies import IncomingMessage

MIN_BODY_CHARS = 2

_NO_REPLY_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|mailer[-_.]?daemon|postmaster|"
    r"bounces?|notifications?|notify|newsletters?|news|digest|alerts?|marketing|promo(tions)?|"
    r"updates|automated|auto[-_.]?confirm|system)([-_.+].*)?$",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
_BULK_BODY = re.compile(
    r"(\bunsubscribe\b|\bview (this email |it )?(in|on) (your |a )?(web )?browser\b|"
    r"\bmanage (your )?(email )?(preferences|subscriptions?)\b|\bopt[- ]out\b|"
    r"\byou are receiving this (email|message) because\b|"
    r"\bto stop receiving these (emails|messages)\b|\bupdate your email preferences\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TriggerDecision:
    triggered: bool
    reason: str  # why not ("bulk_header", "no_reply_sender", ...), or "ok"


def _address(sender: str) -> str:
    m = re.search(r"<([^>]+)>", sender)
    return (m.group(1) if m else sender).strip().lower()


def _header(headers: dict[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.strip().lower() == name:
            return v
    return None


def decide(message: IncomingMessage, *, max_body_chars: int) -> TriggerDecision:
    """Decide whether suggesting a reply makes sense for ``message``; a body over
    ``max_body_chars`` (``smart_reply_max_body_chars``) is a document, not a message."""
    headers = message.headers or {}
    if _header(headers, "list-unsubscribe") is not None or _header(headers, "list-id") is not None:
        return TriggerDecision(False, "bulk_header")
    precedence = (_header(headers, "precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return TriggerDecision(False, "bulk_header")
    auto = (_header(headers, "auto-submitted") or "").strip().lower()
    if auto and auto != "no":
        return TriggerDecision(False, "auto_submitted")
    local = _address(message.from_).split("@", 1)[0]
    if _NO_REPLY_LOCAL.match(local):
        return TriggerDecision(False, "no_reply_sender")
    body = (message.body or "").strip()
    if len(body) < MIN_BODY_CHARS or not re.search(r"\w", body):
        return TriggerDecision(False, "empty_body")
    if len(body) > max_body_chars:
        return TriggerDecision(False, "long_body")
    if _BULK_BODY.search(body):
        return TriggerDecision(False, "bulk_footer")
    return TriggerDecision(True, "ok")
