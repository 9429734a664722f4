"""Why a request was answered the way it was: a collector the use cases fill.

A ``Trace`` is made per generation request. The use case times its stages with
``with trace.stage("retrieve"):`` (each stage is also an OpenTelemetry span when
tracing is on), notes the history it used and the style it applied, and at the end
hands over every candidate it considered (``add_candidate``) and what it served.
``record_generation`` stores ``trace.to_dict()`` in the ``explanations`` table, keyed
like the generation by (tenant, request_id), so forget and retention remove both.

``GET /v1/requests/{request_id}`` reads it back (``load_explanation``); the short,
user-facing sentence of a smart-reply response is ``short_reason``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

from gateway.core.errors import NotFound
from gateway.schemas.common import CheckResult

STAGES = ("retrieve", "prompt", "model", "guardrails", "rank")


@dataclass
class Trace:
    request_id: str
    task: str
    tracer: Any = None  # gateway.tracing.Tracing (or None: no spans)
    metrics: Any = None  # gateway.metrics.Metrics (stage latency histogram)
    stages_ms: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    style: dict | None = None
    candidates: list[dict] = field(default_factory=list)
    served: list[dict] = field(default_factory=list)
    model: str | None = None
    prompt_version: str | None = None
    variant: str | None = None
    fallback_reason: str | None = None
    model_error: str | None = None

    def __post_init__(self) -> None:
        self._span = self._ctx = None
        if self.tracer is not None:
            self._span, self._ctx = self.tracer.start_request(self.task, self.request_id)

    @contextmanager
    def stage(self, name: str):
        """Time a stage (summed if it runs more than once) and span it; safe to use
        from work-pool threads."""
        t0 = time.perf_counter()
        span = (self.tracer.stage(name, self._ctx, self.request_id, self.task)
                if self.tracer is not None else None)
        try:
            if span is None:
                yield
            else:
                with span:
                    yield
        finally:
            seconds = time.perf_counter() - t0
            self.stages_ms[name] = round(self.stages_ms.get(name, 0.0) + seconds * 1000, 3)
            if self.metrics is not None:
                self.metrics.stage_latency.labels(task=self.task, stage=name).observe(seconds)

    def finish(self) -> None:
        """End the request's root span (when tracing)."""
        if self._span is not None:
            if self.fallback_reason:
                self._span.set_attribute("persona.fallback_reason", self.fallback_reason)
            self._span.end()
            self._span = None

    def use_history(self, item_id: str, similarity: float, contributed: str,
                    kind: str | None = None) -> None:
        """Record that a history item contributed (prompt_example, rule_reply, voice,
        style, ranking); one entry per item, its contributions merged."""
        for h in self.history:
            if h["id"] == item_id:
                if contributed not in h["contributed"]:
                    h["contributed"].append(contributed)
                return
        entry = {"id": item_id, "similarity": round(float(similarity), 4),
                 "contributed": [contributed]}
        if kind:
            entry["kind"] = kind
        self.history.append(entry)

    def use_style(self, profile: Any, *, items: int) -> None:
        data = asdict(profile) if is_dataclass(profile) else dict(profile)
        self.style = {"items": items, **{k: _plain(v) for k, v in data.items()}}

    def add_candidate(self, *, text: str, source: str, origin: str | None = None,
                      score: float, components: dict | None, checks: list[CheckResult],
                      status: str, dropped_by: str | None = None) -> None:
        """``score`` as the response shows it. ``status``: served, blocked (``dropped_by`` names the rule), unchecked (the
        guardrails ran out of time before it) or not_selected (ranked out)."""
        self.candidates.append({
            "text": text, "source": source, "origin": origin or source,
            "score": float(score), "components": components or {},
            "checks": [c.model_dump() for c in checks], "status": status,
            "dropped_by": dropped_by})

    def serve(self, suggestions) -> None:
        """What the response carries, in its order (``Suggestion`` models)."""
        self.served = [s.model_dump() for s in suggestions]

    def to_dict(self) -> dict:
        return {"request_id": self.request_id, "task": self.task, "model": self.model,
                "prompt_version": self.prompt_version, "variant": self.variant,
                "fallback_reason": self.fallback_reason, "model_error": self.model_error,
                "history": self.history, "style": self.style, "served": self.served,
                "candidates": self.candidates,
                "stages_ms": {k: self.stages_ms[k] for k in STAGES if k in self.stages_ms}}


def _plain(v):
    return list(v) if isinstance(v, (tuple, set, frozenset)) else v


def blocked_by(checks: list[CheckResult]) -> str | None:
    """The first rule that blocked, from a candidate's check results."""
    return next((c.name for c in checks if not c.passed and c.action == "block"), None)


def short_reason(trace: Trace) -> str:
    """One sentence a user can read: why these suggestions (no scores, no ids)."""
    served = trace.served
    if not served:
        return "No suggestions: this message does not look like one to reply to quickly."
    used = {c for h in trace.history for c in h["contributed"]}
    if any(s["source"] == "llm" for s in served) and "prompt_example" in used:
        return "Suggested because you often reply like this to similar messages."
    if "rule_reply" in used:
        return "Suggested because you replied like this to a similar message before."
    if trace.style and trace.style.get("items"):
        return "Common replies to messages like this, written in your usual style."
    return "Common replies to messages like this (not personalized: no reply history yet)."


def load_explanation(services, *, tenant_id: int, request_id: str) -> dict:
    """The stored explanation of one of this tenant's requests, or 404."""
    from gateway.tables import Explanation

    with services.db.session() as s:
        row = s.get(Explanation, (tenant_id, request_id))
        if row is None:
            raise NotFound(f"request_id {request_id!r} has no explanation for this tenant; "
                           "send the request_id of one of this tenant's smart-replies or "
                           "subject-lines responses (explanations expire with "
                           "PERSONA_RETENTION_DAYS and are removed when a user is forgotten)",
                           field="request_id")
    data = (services.keys.open_json(tenant_id, row.user_id, row.data) if row.user_id
            else row.data)
    return {**data, "user_id": row.user_id, "created_at": row.created_at}


def _status(c, chosen_ids: set[int]) -> tuple[str, str | None]:
    if id(c) in chosen_ids:
        return "served", None
    if not c.checks:
        return "unchecked", None
    rule = blocked_by(c.checks)
    if rule is not None:
        return "blocked", rule
    return "not_selected", None


def fill_replies(trace: Trace, *, user, prompt, pool, chosen) -> None:
    """A smart reply's history, style and candidates (``pool``: every candidate the
    model and the rules produced, in order; ``chosen``: what was served)."""
    examples = set(prompt.example_ids) if prompt is not None else set()
    rule_ids = {c.context_id for c in pool if c.context_id}
    from gateway.usecases.replies.personal import bare_reply

    voice = set(user.voice)
    for p in user.pairs:
        if p.id in examples:
            trace.use_history(p.id, p.similarity, "prompt_example")
        if p.id in rule_ids:
            trace.use_history(p.id, p.similarity, "rule_reply")
        if bare_reply(p.reply) in voice:
            trace.use_history(p.id, p.similarity, "voice")
    if user.has_history:
        trace.use_style(user.profile, items=user.history_items)
    served = {id(c) for c in chosen}
    for c in pool:
        status, rule = _status(c, served)
        trace.add_candidate(text=c.text, source=c.source, score=round(c.score, 3),
                            components=c.components, checks=c.checks, status=status,
                            dropped_by=rule)


def fill_subjects(trace: Trace, *, signals, profile, pool, chosen) -> None:
    """A subject line's history signals, style and candidates (``pool``: everything
    considered, in order, including what the guardrails or hard limits dropped)."""
    for kind, items, role in (("subject_opened", signals.opened, "ranking"),
                              ("subject_ignored", signals.ignored, "ranking"),
                              ("sent_email", signals.sent, "candidate_source")):
        for p in items:
            trace.use_history(p.id, p.similarity, role, kind=kind)
    if not signals.empty and profile is not None:
        trace.use_style(profile, items=len(signals.liked()))
    served = {id(c) for c in chosen}
    for c in pool:
        dropped = getattr(c, "dropped_by", None)
        status, rule = ("blocked", dropped) if dropped else _status(c, served)
        trace.add_candidate(text=c.text, source=c.source, origin=c.origin, score=c.score,
                            components={"raw": round(c.raw, 4), "support": c.support},
                            checks=c.checks, status=status, dropped_by=rule)
