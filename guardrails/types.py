"""The vocabulary every check and the pipeline share.

A check looks at one candidate text with its context and returns a :class:`Finding`
(did it pass, why not, and — where the check knows how — a repaired text). The
pipeline, not the check, decides what a failure means: it pairs each check with an
action (``block``, ``repair`` or ``flag``) and a fail-open / fail-closed policy, and
turns findings into :class:`Verdict` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Action = Literal["block", "repair", "flag"]
Task = Literal["smart_reply", "subject_line"]
ACTIONS: tuple[str, ...] = ("block", "repair", "flag")


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may compare a candidate against.

    ``sources`` are texts the output may draw facts from (incoming message and its
    from-address, thread, campaign body, brand, retrieved history, signature).
    ``untrusted`` are texts written by outsiders (the incoming email): they may be in
    ``sources`` too — a date in the message grounds a reply — but links, addresses
    and instructions that appear only inside injection-like passages of them must
    never be echoed.
    """

    task: Task = "smart_reply"
    sources: Sequence[str] = ()
    untrusted: Sequence[str] = ()
    max_chars: int | None = None
    banned_words: Sequence[str] = ()
    emoji_allowed: bool = True
    language: str | None = None
    system_prompt: str | None = None
    # Per-context memo (entity sets of the sources, injection spans): built once,
    # shared by every candidate checked against this context.
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key, build):
        """Compute ``build()`` once per context (sources are fixed for a request)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def keys_of(self, texts) -> set:
        """Union of the entity keys of ``texts``, each text extracted once per context."""
        from guardrails.normalize import source_keys

        out: set = set()
        for text in texts:
            if text and text.strip():
                out |= self.memo(("keys", text), lambda t=text: source_keys([t]))
        return out

    @property
    def source_texts(self) -> list[str]:
        return [s for s in self.sources if s]

    @property
    def untrusted_texts(self) -> list[str]:
        return [s for s in self.untrusted if s]


@dataclass(frozen=True)
class Finding:
    """What one check found: pass/fail, a reason a human can act on, a repair if any."""

    passed: bool
    reason: str | None = None
    repaired: str | None = None

    @classmethod
    def ok(cls) -> Finding:
        return cls(True)

    @classmethod
    def fail(cls, reason: str, repaired: str | None = None) -> Finding:
        return cls(False, reason, repaired)


@runtime_checkable
class Check(Protocol):
    """One guardrail: a name and a pure function of (text, context)."""

    name: str

    def run(self, text: str, ctx: CheckContext) -> Finding: ...


@dataclass(frozen=True)
class Verdict:
    """The pipeline's decision for one check on one candidate.

    ``action`` is the configured action; it only had an effect when ``passed`` is
    false. ``error`` is true when the check itself raised and its fail-open /
    fail-closed policy decided the outcome.
    """

    name: str
    passed: bool
    action: Action = "block"
    reason: str | None = None
    error: bool = False

    @property
    def label(self) -> str:
        """Metric label: ``pass``, ``error``, or the action taken (block/repair/flag)."""
        if self.error:
            return "error"
        return "pass" if self.passed else self.action


@dataclass(frozen=True)
class GuardrailResult:
    """Outcome of the pipeline on one candidate.

    ``text`` is the candidate after repairs (unchanged when nothing was repaired);
    ``blocked`` means the candidate must not be served.
    """

    text: str
    original: str
    blocked: bool
    verdicts: list[Verdict]

    @property
    def passed(self) -> bool:
        return not self.blocked

    @property
    def repaired(self) -> bool:
        return self.text != self.original

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    @property
    def flags(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed and v.action == "flag"]

    def verdict(self, name: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.name == name), None)

    @property
    def reasons(self) -> list[str]:
        return [f"{v.name}: {v.reason}" for v in self.verdicts if not v.passed and v.reason]


__all__ = [
    "ACTIONS", "Action", "Check", "CheckContext", "Finding", "GuardrailResult", "Task", "Verdict",
]
