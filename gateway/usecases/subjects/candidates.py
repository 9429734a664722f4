"""Where subject-line candidates come from, and the recipient's history as signals.

Three sources feed one ranker: the model (``llm``), the author's own subjects of
their most similar past emails (``history`` — on real mail a strong baseline),
and phrases of the body (``body`` — grounded templates, key phrases, the lead
sentence). History items may store a sent email either as ``subject`` + body in
``text`` (the API's layout) or as subject in ``text`` + body in ``context``;
both are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from gateway.schemas.common import CheckResult
from gateway.usecases.subjects.phrases import capitalize_first, key_phrases, shorten, topic_words
from gateway.usecases.subjects.rules import rule_subject_lines

Origin = Literal["llm", "history", "body"]
SIGNAL_KINDS = ("subject_opened", "subject_ignored", "sent_email")


@dataclass
class Candidate:
    text: str
    origin: Origin
    support: float = 0.0  # history: how similar the email it came from is to this one
    checks: list[CheckResult] = field(default_factory=list)
    score: float = 0.0  # served: 0..1
    raw: float = 0.0  # the ranker's weighted sum; ordering uses this (no rounding ties)
    dropped_by: str | None = None  # the hard limit or guardrail rule that dropped it

    @property
    def source(self) -> str:
        """The API's source: the model's own text is ``llm``, everything else ``rules``."""
        return "llm" if self.origin == "llm" else "rules"


@dataclass(frozen=True)
class PastSubject:
    id: str
    subject: str
    body: str | None
    kind: str
    similarity: float  # retrieval score against this campaign


@dataclass
class Signals:
    """The recipient's history that bears on this campaign."""

    opened: list[PastSubject] = field(default_factory=list)
    ignored: list[PastSubject] = field(default_factory=list)
    sent: list[PastSubject] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.opened or self.ignored or self.sent)

    @property
    def context_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.sent + self.opened + self.ignored:
            seen.setdefault(p.id, None)
        return list(seen)

    def liked(self) -> list[PastSubject]:
        """Subjects that show the recipient's taste: opened, and their own."""
        return self.opened + self.sent


def past_subject(item) -> PastSubject | None:
    """A retrieved history item as (subject, body), whichever layout it was stored in."""
    kind = item.kind
    text = (item.text or "").strip()
    subject = (item.subject or "").strip()
    context = (getattr(item, "context", None) or "").strip()
    if kind in ("subject_opened", "subject_ignored"):
        subject, body = subject or text, context or None
    elif kind == "sent_email":
        if subject:
            body = text or context or None
        elif context:
            subject, body = text, context
        else:
            return None
    else:
        return None
    if not subject:
        return None
    return PastSubject(id=item.id, subject=" ".join(subject.split()), body=body, kind=kind,
                       similarity=float(getattr(item, "score", 0.0)))


def signals_from(items: Sequence) -> Signals:
    sig = Signals()
    for item in items:
        p = past_subject(item)
        if p is None:
            continue
        {"subject_opened": sig.opened, "subject_ignored": sig.ignored,
         "sent_email": sig.sent}[p.kind].append(p)
    return sig


def _strip_reply_prefix(subject: str) -> str:
    s = subject
    while True:
        low = s.lower()
        for prefix in ("re:", "fw:", "fwd:", "re :", "fw :"):
            if low.startswith(prefix):
                s = s[len(prefix):].strip()
                break
        else:
            return s


def history_candidates(signals: Signals, *, limit: int = 4) -> list[Candidate]:
    """The author's own subjects of their most similar past emails, most similar first."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for p in sorted(signals.sent, key=lambda p: -p.similarity):
        s = _strip_reply_prefix(p.subject)
        if s and s.lower() not in seen:
            seen.add(s.lower())
            out.append(Candidate(s, "history", support=p.similarity))
        if len(out) >= limit:
            break
    return out


def body_candidates(body: str, *, brand: str | None, tone: str | None, max_chars: int,
                    limit: int = 10) -> list[Candidate]:
    """Grounded rule templates, key phrases (and their last two words, usually the
    head noun) and the body's topic words."""
    texts = rule_subject_lines(body, brand=brand, tone=tone, max_chars=max_chars, limit=limit)
    seen = {t.lower() for t in texts}
    phrases = [t for p in key_phrases(body, limit=6)
               for t in (p.text, " ".join(p.text.split()[-2:]))]
    for t in phrases + topic_words(body):
        t = capitalize_first(shorten(t, max_chars))
        if len(t) >= 3 and t.lower() not in seen:
            seen.add(t.lower())
            texts.append(t)
    return [Candidate(t, "body") for t in texts]
