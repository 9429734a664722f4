"""Personalized subject lines for a campaign, with every claim grounded in it.

Pipeline: read the recipient's history that resembles this campaign (opened,
ignored and self-written subjects) unless personalization is off; gather
candidates from the model, from the author's own past subjects and from the
body; enforce the hard limits; run the guardrails; rank everything with one
scorer; serve ``n`` distinct lines. Rules answer whenever the model is slow,
down or blocked, so a response always arrives within the deadline: when the work
pool could not start the history read in time the request skips it (``fallback_reason``
"overloaded"), and when it could not start the checks in time they run on the rules
only, ranked without embeddings, ahead of all queued work. A tight ``deadline_ms``
degrades the same way; 503 is only for the in-flight bound.

``policy`` exists for evaluation and experiments (compare full / rules-only /
model-only, personalized or not, other ranker weights, model chain or default
deadline); HTTP runs the policy the tenant's running experiment or kill switch
gives the request, else ``DEFAULT_POLICY``.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from gateway.core.errors import BadInput, LLMError, LLMOverloaded, LLMTimeout
from gateway.drift import observe_generation
from gateway.load import Late
from gateway.schemas.common import Suggestion
from gateway.schemas.subject_lines import (
    SubjectLineOptions,
    SubjectLineRequest,
    SubjectLineResponse,
)
from gateway.services import Services
from gateway.usecases.common import (
    Deadline,
    load_preferences,
    record_generation,
    token_counter,
)
from gateway.usecases.explain import Trace, fill_subjects
from gateway.usecases.policy import DEFAULT_POLICY, GenerationPolicy
from gateway.usecases.subjects import rank, style
from gateway.usecases.subjects.candidates import (
    Candidate,
    Signals,
    body_candidates,
    history_candidates,
    signals_from,
)
from gateway.usecases.subjects.checks import guard
from gateway.usecases.subjects.constraints import Limits, enforce, split_model_output
from gateway.usecases.subjects.prompt import MAX_TOKENS, PROMPT_TASK, STOP, build_prompt
from gateway.usecases.subjects.rules import rule_subject_lines

log = logging.getLogger(__name__)

TASK = "subject_line"
# Time kept back from the model for checking, ranking and recording.
_RESERVE_MIN_MS = 250.0
_RESERVE_FRACTION = 0.15
# Below this left after the model, rank without embeddings (style and priors only).
_EMBED_MIN_MS = 80.0
_PER_KIND = {"sent_email": 5, "subject_opened": 6, "subject_ignored": 6}
# Below this, a model call cannot finish: answer from rules at once.
_MIN_MODEL_MS = 150.0


def check_bounds(request: SubjectLineOptions, settings) -> None:
    """Banned words drive the guardrails' matching work: bound how many and how long."""
    words = request.banned_words
    if len(words) > settings.max_banned_words:
        raise BadInput(f"banned_words has {len(words)} entries, more than "
                       f"{settings.max_banned_words}; send the ones that matter most",
                       field="banned_words")
    for i, w in enumerate(words):
        if len(w) > settings.max_banned_word_chars:
            raise BadInput(f"banned_words.{i} is {len(w)} characters, more than "
                           f"{settings.max_banned_word_chars}; ban a word or short phrase",
                           field=f"banned_words.{i}")


async def suggest_subject_lines(
    *, services: Services, tenant_id: int, request: SubjectLineRequest, request_id: str,
    tenant: str | None = None, policy: GenerationPolicy = DEFAULT_POLICY,
    correlation_id: str | None = None,
    arrived: float | None = None,
) -> SubjectLineResponse:
    """``request.n`` subject lines within the deadline (counted from ``arrived``, a
    ``time.monotonic()`` value, when given). The CPU-bound steps run in the services'
    work pool, earliest deadline first; guardrails stop at the deadline."""
    settings = services.settings
    check_bounds(request, settings)
    with services.admission.enter():
        return await _suggest(services=services, tenant_id=tenant_id, request=request,
                              request_id=request_id, tenant=tenant, policy=policy,
                              correlation_id=correlation_id, arrived=arrived)


async def _suggest(*, services: Services, tenant_id: int, request: SubjectLineRequest,
                   request_id: str, tenant: str | None, policy: GenerationPolicy,
                   correlation_id: str | None,
                   arrived: float | None) -> SubjectLineResponse:
    settings = services.settings
    budget_ms = request.deadline_ms or policy.deadline_ms or settings.subject_line_deadline_ms
    # The reserve never takes more than half a (tight) budget: the history read and the
    # model then get what is left, instead of a plan already past its model deadline.
    deadline = Deadline.plan(budget_ms,
                             reserve_ms=min(max(_RESERVE_MIN_MS, budget_ms * _RESERVE_FRACTION),
                                            budget_ms * 0.5),
                             start=arrived)
    label = tenant or str(tenant_id)
    camp = request.campaign
    limits = Limits(max_chars=request.max_chars, emoji=request.emoji,
                    banned_words=tuple(request.banned_words))
    work = services.work
    # What was served and why (GET /v1/requests/{id}); stage timings and spans.
    trace = Trace(request_id=request_id, task=TASK, tracer=services.tracing,
                  metrics=services.metrics)

    signals, personal_reason, body_vec, stored = Signals(), None, None, {}
    # Queue for the history read only if it could start before the model would have to
    # stop; else (or if it did not start in time) answer from rules now.
    overloaded = time.monotonic() + work.expected_wait_s() >= deadline.model_at
    if not overloaded:
        try:
            with trace.stage("retrieve"):
                signals, personal_reason, body_vec, stored = await work.run(
                    _signals, services, tenant_id, request.user_id, camp.body,
                    policy.personalize, due=deadline.at, start_by=deadline.model_at)
        except Late:
            overloaded = True

    model_name: str | None = None
    prompt_version = _prompt_version() if policy.use_model else None
    gen_reason: str | None = None
    llm_cands: list[Candidate] = []
    if policy.use_model and not overloaded:
        model_name, llm_cands, gen_reason = await _from_model(services, request, signals,
                                                              deadline, trace,
                                                              models=policy.models)
    finish_by = deadline.finish_by()

    def finish(quick: bool = False):
        return _finish(services, request, signals, [] if quick else llm_cands, gen_reason,
                       limits, label, policy, deadline, body_vec=body_vec, stored=stored,
                       stop_at=None if quick else (finish_by + deadline.at) / 2, quick=quick,
                       trace=trace)

    if not overloaded:
        try:
            chosen, gen_reason = await work.run(finish, due=deadline.at, start_by=finish_by)
        except Late:
            overloaded = True
    if overloaded:
        # Ahead of all queued work (due at our start): the rules, without embeddings.
        chosen, _ = await work.run(finish, True, due=deadline.start)
        gen_reason = "overloaded"

    fallback_reason = gen_reason or personal_reason
    texts = [c.text for c in chosen]
    served_model = model_name if any(c.origin == "llm" for c in chosen) else None
    served = [Suggestion(text=c.text, source=c.source, score=c.score, checks=c.checks)
              for c in chosen]
    trace.model, trace.prompt_version = served_model, prompt_version
    trace.variant = policy.variant
    trace.fallback_reason = fallback_reason
    trace.serve(served)

    def record():
        record_generation(
            services, request_id=request_id, tenant_id=tenant_id, user_id=request.user_id,
            task=TASK, input_text=camp.body, outputs=texts, model=served_model,
            prompt_version=prompt_version, correlation_id=correlation_id, trace=trace,
            tenant=label)
        # Input drift reuses the body vector of the history search (none when the
        # request read no history, or under load: then only the output signals count).
        observe_generation(services, tenant=label, task=TASK, request_id=request_id,
                           message_vec=body_vec, served=served, fallback=fallback_reason,
                           trace=trace)

    # Ahead of every other request's work (due at our start): the answer is ready.
    await work.run(record, due=deadline.start)
    trace.finish()
    m = services.metrics
    if fallback_reason:
        m.fallbacks.labels(tenant=label, task=TASK, reason=fallback_reason).inc()
    for c in chosen:
        m.suggestions.labels(tenant=label, task=TASK, source=c.source).inc()
    return SubjectLineResponse(
        request_id=request_id,
        subject_lines=served,
        personalized=not signals.empty,
        context_ids=signals.context_ids if not signals.empty else [],
        model=served_model,
        prompt_version=prompt_version,
        fallback_reason=fallback_reason,
        latency_ms=deadline.elapsed_ms(),
    )


def _finish(services: Services, request: SubjectLineRequest, signals: Signals,
            llm_cands: list[Candidate], gen_reason: str | None, limits: Limits, label: str,
            policy: GenerationPolicy, deadline: Deadline, *, body_vec=None,
            stored: dict | None = None, stop_at: float | None, quick: bool = False,
            trace: Trace | None = None) -> tuple[list[Candidate], str | None]:
    """Guardrails (stopping at ``stop_at``), ranking and the pick, in the work pool;
    ``quick``: no embeddings (and the caller passes no model candidates). ``stored``:
    vectors stored at ingest for history texts, used instead of embedding them again."""
    camp = request.campaign
    profile = style.profile_of([p.subject for p in signals.liked()],
                               [max(p.similarity, 0.05) for p in signals.liked()])
    pool = list(llm_cands)
    if policy.fill_with_rules or not llm_cands or quick:
        pool += history_candidates(signals) + body_candidates(
            camp.body, brand=camp.brand, tone=camp.tone, max_chars=request.max_chars)

    trace = trace or Trace(request_id="", task=TASK)
    with trace.stage("guardrails"):
        outcome = guard(pool, body=camp.body, brand=camp.brand, limits=limits,
                        metrics=services.metrics, tenant=label, stop_at=stop_at)
    kept = outcome.kept
    if not policy.fill_with_rules and any(c.origin == "llm" for c in kept):
        kept = [c for c in kept if c.origin == "llm"]
    if llm_cands and gen_reason is None and not any(c.origin == "llm" for c in kept):
        gen_reason = "guardrail"
    if not kept:  # even the body phrases were blocked: last-resort grounded templates
        with trace.stage("guardrails"):
            kept = _last_resort(camp.body, limits, services, label, stop_at=stop_at)
        gen_reason = gen_reason or ("guardrail" if policy.use_model else None)
        pool += [c for c in kept if all(c is not p for p in pool)]

    with trace.stage("rank"):
        # The campaign's own texts (its body, the candidates drawn from it) recur for every
        # recipient: through the shared cache. The rest is this user's.
        shared = {camp.body, *(c.text for c in kept if c.origin == "body")}
        embed = (_embed_with(services.embedder.embed, stored or {}, services.shared_vectors,
                             shared) if not quick and deadline.left_ms() > _EMBED_MIN_MS
                 else None)
        weights = policy.subject_weights
        vecs = rank.score(kept, embed=embed, body=camp.body, signals=signals, profile=profile,
                          weights=rank.DEFAULT_WEIGHTS if weights is None else weights,
                          body_vec=body_vec)
        chosen = rank.pick(kept, vecs, request.n)
    fill_subjects(trace, signals=signals, profile=profile, pool=pool, chosen=chosen)
    return chosen, gen_reason


def _embed_with(embed, stored: dict, cache=None, shared: set[str] = frozenset()):
    """``embed``, looking up first the vectors stored for exactly these texts; the
    ``shared`` texts (the campaign's) go through ``cache`` (a ``VectorCache``)."""
    if not stored and cache is None:
        return embed

    def lookup(texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in stored]
        common = [t for t in todo if t in shared] if cache is not None else []
        common_set = set(common)
        own = [t for t in todo if t not in common_set]
        fresh = dict(zip(common, cache.embed(common))) if common else {}
        fresh.update(zip(own, embed(own)) if own else ())
        return np.vstack([stored[t] if t in stored else fresh[t] for t in texts])

    return lookup


def _prompt_version() -> str:
    from prompts.render import default_library

    return default_library().latest(PROMPT_TASK)


def _signals(services: Services, tenant_id: int, user_id: str | None, body: str,
             personalize: bool) -> tuple[Signals, str | None, object, dict]:
    """The recipient's relevant history, or why there is none, the body's vector
    when it was embedded for the search (ranking reuses it; in the work pool), and the
    vectors stored at ingest for the retrieved texts (text -> vector: ranking looks its
    past subjects up there instead of embedding them on every request). With
    personalization off (preferences) nothing of theirs is read."""
    if not personalize or not user_id:
        return Signals(), None, None, {}
    prefs = load_preferences(services, tenant_id, user_id)
    if not prefs.personalization:
        return Signals(), "personalization_off", None, {}
    embedder = services.shared_vectors or services.embedder  # the body recurs per recipient
    body_vec = embedder.embed_one(body) if body.strip() else None

    def retrieve():
        # One search (the body embedded once), then at most _PER_KIND[kind] each.
        items = history.retrieve(tenant_id, user_id, body, k=sum(_PER_KIND.values()),
                                 kinds=list(_PER_KIND), query_vec=body_vec, with_vectors=True)
        taken: dict[str, int] = {}
        out = []
        for item in items:
            if taken.get(item.kind, 0) < _PER_KIND[item.kind]:
                taken[item.kind] = taken.get(item.kind, 0) + 1
                out.append(item)
        return out

    history = services.history
    items = retrieve()
    stored = _stored_vectors(items, getattr(history, "reply_text", None))
    signals = signals_from(items)
    return signals, ("no_history" if signals.empty else None), body_vec, stored


def _stored_vectors(items, reply_text) -> dict:
    """Text -> vector for what was embedded at ingest: an item's reply vector is of
    ``reply_text(item.text)``, its context vector of the clipped context."""
    from embeddings.store import CONTEXT_CHARS

    out = {}
    for item in items:
        if item.reply_vec is not None and reply_text is not None and item.text:
            out.setdefault(reply_text(item.text), item.reply_vec)
        if item.context_vec is not None and item.context:
            out.setdefault(item.context[:CONTEXT_CHARS], item.context_vec)
    return out


async def _from_model(services: Services, request: SubjectLineRequest, signals: Signals,
                      deadline: Deadline, trace: Trace | None = None, *,
                      models: tuple[str, ...] | None = None,
                      ) -> tuple[str | None, list[Candidate], str | None]:
    """Ask the model; returns (model, candidates, fallback reason or None)."""
    if deadline.model_left_ms() < _MIN_MODEL_MS:
        return None, [], "timeout"
    trace = trace or Trace(request_id="", task=TASK)
    try:
        with trace.stage("prompt"):
            prompt = await services.work.run(
                lambda: build_prompt(request, signals, budget_tokens=services.settings
                                     .prompt_token_budget, count_tokens=token_counter(services)),
                due=deadline.at, start_by=deadline.model_at - _MIN_MODEL_MS / 1000)
    except Late:
        return None, [], "overloaded"
    try:
        with trace.stage("model"):
            completion = await services.llm.complete(
                prompt.messages, max_tokens=MAX_TOKENS, temperature=0.2, stop=STOP,
                deadline=deadline.model_at, models=models)
    except LLMOverloaded:
        return None, [], "overloaded"
    except LLMTimeout:
        return None, [], "timeout"
    except LLMError as exc:
        log.warning("subject-line model call failed: %s", exc)
        trace.model_error = "llm_error"
        return None, [], "llm_error"
    lines = split_model_output(completion.text, limit=max(request.n * 2, 6),
                               cut_off=completion.finish_reason == "length")
    return completion.model, [Candidate(t, "llm") for t in lines], None


def _last_resort(body: str, limits: Limits, services: Services, label: str, *,
                 stop_at: float | None = None) -> list[Candidate]:
    """Plain key-phrase subjects with no claims at all, for when everything else failed."""
    outcome = guard([Candidate(t, "body") for t in rule_subject_lines(
        body, max_chars=limits.max_chars, limit=12)], body=body, brand=None, limits=limits,
        metrics=services.metrics, tenant=label, stop_at=stop_at)
    return outcome.kept or [Candidate(enforce("A note for you", limits) or "Update", "body")]
