"""Smart replies: ``suggest_replies`` — the use case behind ``POST /v1/smart-replies``.

Pipeline (each step in ``gateway.usecases.replies.*``):
trigger → preferences → user context (retrieval + style) → rules pool (ready
before the model, so any failure has an answer) → prompt → model samples within
the deadline → clean + style → guardrails → score → pick ``n`` distinct
(the model's best first, then any source by score) → record + metrics.

Under load (the work pool could not start this request's embedding and retrieval
before the model would have to stop) the request skips all of that and answers at
once from canned rules, checked and ranked without embeddings, with
``fallback_reason`` "overloaded": within the deadline, always, and never a 5xx for
being busy (503 is only for the in-flight bound, ``max_inflight_generations``).

``policy`` (not in the HTTP API: the route resolves it from the tenant's running
experiment and kill switch, else ``DEFAULT_POLICY``) lets evals, benchmarks and
experiment variants compare pipelines: rules only (no model call), model only (no
rule fill), personalization off (the user's history is not read), another model
chain, sample count or default deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from gateway.core.errors import BadInput
from gateway.core.settings import is_local_model
from gateway.load import Late
from gateway.schemas.common import Suggestion
from gateway.schemas.smart_replies import SmartReplyRequest, SmartReplyResponse
from gateway.services import Services
from gateway.usecases.common import (
    Deadline,
    load_preferences,
    token_counter,
)
from gateway.usecases.explain import Trace, fill_replies, short_reason
from gateway.usecases.policy import DEFAULT_POLICY, GenerationPolicy
from gateway.usecases.replies import cached as answer_cache
from gateway.usecases.replies import generate, trigger
from gateway.usecases.replies.checks import make_context, run_checks
from gateway.usecases.replies.clean import apply_style, clean
from gateway.usecases.replies.personal import UserContext, load_user_context
from gateway.usecases.replies.prompt import TASK, build_prompt
from gateway.usecases.replies.responses import GENERAL_TEXTS
from gateway.usecases.replies.rules import (
    CANNED,
    FILLERS,
    Pair,
    canned_candidates,
    filler_candidates,
    personal_candidates,
    reply_intent,
)
from gateway.usecases.replies.select import (
    Candidate,
    apply_likelihood,
    pick_distinct,
    score_all,
)
from gateway.usecases.replies.served import record_served
from gateway.usecases.replies.shared import SharedReply, tenant_responses
from gateway.usecases.replies.style import build_profile
from gateway.usecases.replies.vectors import Vectors
from guardrails.emailtext import bare_reply
from guardrails.injection import sanitize, scan_input, strip_spans

log = logging.getLogger(__name__)
CANNED_TEXTS = (*(text for variants in (*CANNED.values(), FILLERS) for _, text in variants),
                *GENERAL_TEXTS)


def _message_for_model(request: SmartReplyRequest) -> tuple[str, str]:
    """Subject and body with injected passages removed and control tokens defused."""
    body = request.message.body
    report = scan_input(body)
    if report.spans:
        body = strip_spans(body, report.spans)
    return sanitize(request.message.subject or ""), sanitize(body)


def _llm_candidates(raws, *, incoming: str, style, sender: str, max_chars: int,
                    prior: float) -> list[Candidate]:
    """The model's samples, cleaned and styled; ``prior`` (``smart_reply_model_prior``)
    falls slightly with the sampling temperature."""
    out = []
    for raw, temp in raws:
        bare = clean(raw, incoming=incoming, max_sentences=style.max_sentences,
                     max_chars=max_chars)
        if bare is None:
            continue
        out.append(Candidate(text=apply_style(bare, style, sender=sender, max_chars=max_chars),
                             bare=bare, source="llm", intent=reply_intent(bare),
                             prior=round(prior - 0.05 * max(temp - 0.3, 0), 3)))
    return out


def _filler_candidates(user: UserContext, *, sender: str, max_chars: int) -> list[Candidate]:
    return [Candidate(text=apply_style(r.text, user.profile, sender=sender, max_chars=max_chars),
                      bare=r.text, source="rules", intent=r.intent, prior=r.prior)
            for r in filler_candidates()]


def _shared_candidates(shared: list[SharedReply], user: UserContext, *, sender: str,
                       max_chars: int, min_users: int) -> list[Candidate]:
    """The tenant's response set: the more users send a reply, the more it is trusted."""
    return [Candidate(text=apply_style(r.text, user.profile, sender=sender, max_chars=max_chars),
                      bare=r.text, source="rules", intent=reply_intent(r.text),
                      prior=round(0.45 + 0.05 * min(math.log2(r.users / max(min_users, 1)), 3),
                                  3))
            for r in shared]


def _rule_candidates(message_text: str, user: UserContext, *, sender: str,
                     max_chars: int) -> list[Candidate]:
    out = []
    for r in personal_candidates(user.pairs, own_names=user.profile.signoff_names):
        # The user's own words, already bare (``rules.reusable``); greeting and sign-off
        # redone for this sender.
        out.append(Candidate(text=apply_style(r.text, user.profile, sender=sender,
                                              max_chars=max_chars),
                             bare=r.text, source="rules", intent=r.intent,
                             prior=r.prior, context_id=r.context_id))
    for r in canned_candidates(message_text):
        out.append(Candidate(text=apply_style(r.text, user.profile, sender=sender,
                                              max_chars=max_chars),
                             bare=r.text, source="rules", intent=r.intent, prior=r.prior))
    return out


@dataclass
class _Plan:
    """Everything the request needs around the model call (built off the event loop)."""

    incoming: str
    message_vec: object  # None in a plan made without embeddings (``_quick_plan``)
    vectors: Vectors | None
    user: UserContext
    rules: list[Candidate]
    prefs: object
    prompt: object = None
    # The request's guardrail context, and the rules that passed it, when they were
    # checked while the model ran (``_precheck``); None: ``_choose`` checks them.
    ctx: object = None
    checked_rules: list[Candidate] | None = None
    # The model's log-likelihood of each candidate's bare text (``rank="likelihood"``);
    # None: ranked by the heuristic score alone.
    likelihoods: dict[str, float] | None = None


def _prepare(services: Services, tenant_id: int, request: SmartReplyRequest,
             policy: GenerationPolicy, trace: Trace) -> _Plan:
    s = services.settings
    with trace.stage("retrieve"):
        prefs = load_preferences(services, tenant_id, request.user_id)
        subject, body = _message_for_model(request)
        incoming = f"{subject}\n{body}".strip()
        query = incoming[:2000]
        shared = tenant_responses(services, tenant_id)
        vectors = Vectors(services.embedder, shared=(*CANNED_TEXTS, *(r.text for r in shared)),
                          cache=services.shared_vectors)
        message_vec = vectors.matrix([query])[0]
        user = UserContext()
        if prefs.personalization and policy.personalize:
            user = load_user_context(services, tenant_id=tenant_id, user_id=request.user_id,
                                     query=query, vectors=vectors, signature=prefs.signature)
        plan = _Plan(incoming=incoming, message_vec=message_vec, vectors=vectors, user=user,
                     rules=_rule_candidates(body, user, sender=request.message.from_,
                                            max_chars=request.max_chars)
                     + _shared_candidates(shared, user, sender=request.message.from_,
                                          max_chars=request.max_chars,
                                          min_users=s.smart_reply_shared_min_users),
                     prefs=prefs)
    if policy.use_model:
        primary = services.llm.first(policy.models)
        examples = [Pair(p.id, p.context, bare_reply(p.reply), p.similarity)
                    for p in user.pairs if p.similarity >= 0.3]
        local = is_local_model(primary)
        with trace.stage("prompt"):
            plan.prompt = build_prompt(
                subject=subject, body=body, pairs=examples,
                budget_tokens=s.smart_reply_prompt_tokens, count_tokens=token_counter(services),
                max_examples=s.smart_reply_examples,
                example_tokens=s.smart_reply_local_example_tokens if local else None)
    return plan


def _quick_plan(services: Services, tenant_id: int, request: SmartReplyRequest) -> _Plan:
    """Canned rules for an overloaded moment: the user's preferences (signature, locale)
    but no embedding, no history, no prompt."""
    prefs = load_preferences(services, tenant_id, request.user_id)
    subject, body = _message_for_model(request)
    user = UserContext(profile=build_profile([], signature=prefs.signature))
    return _Plan(incoming=f"{subject}\n{body}".strip(), message_vec=None, vectors=None,
                 user=user, prefs=prefs,
                 rules=[c for c in _rule_candidates(body, user, sender=request.message.from_,
                                                    max_chars=request.max_chars)])


async def _likelihoods(services: Services, plan: _Plan, pool: list[Candidate],
                       policy: GenerationPolicy, *, deadline: float) -> dict[str, float] | None:
    """The model's mean log-probability per token of the pool's candidates (at most
    ``smart_reply_score_max``: the model's own samples first, then highest prior), given
    the same prompt the samples came from; None when the model cannot score (hosted) or
    scored nothing in time."""
    texts = list(dict.fromkeys(
        c.bare for c in sorted(pool, key=lambda c: (c.source != "llm", -c.prior))))
    texts = texts[:services.settings.smart_reply_score_max]
    got = await services.llm.score(plan.prompt.messages, texts, deadline=deadline,
                                   models=policy.models)
    if not got:
        return None
    scored = {t: v for t, v in zip(texts, got, strict=True) if v is not None}
    return scored or None


def _check_bounds(request: SmartReplyRequest, s) -> None:
    """The thread drives guardrail work (every message is a source): bound it."""
    if len(request.thread) > s.max_thread_messages:
        raise BadInput(f"thread has {len(request.thread)} messages, more than "
                       f"{s.max_thread_messages}; send only the latest ones", field="thread")
    chars = sum(len(t.body) + len(t.subject) for t in request.thread)
    if chars > s.max_thread_chars:
        raise BadInput(f"thread has {chars} characters, more than {s.max_thread_chars}; "
                       "send fewer or shorter (quote-stripped) messages", field="thread")


def _choose(services: Services, tenant: str, request: SmartReplyRequest, plan: _Plan,
            pool: list[Candidate], policy: GenerationPolicy, stop_at: float | None = None,
            trace: Trace | None = None, *, quick: bool = False) -> list[Candidate]:
    """Guardrails, score, and pick ``n`` distinct: the model's slots first, then by score.

    Guardrails stop at ``stop_at``; candidates not checked by then are dropped, so the
    rules (what fills ``n`` whatever the model did) are checked first. Past
    ``stop_at``, or ``quick`` (or in a plan without vectors), candidates are ranked
    without embedding them. The generic fillers are checked only when ``n`` is short."""
    msg, user = request.message, plan.user
    ctx = plan.ctx or _check_context(request, plan)
    trace = trace or Trace(request_id="", task=TASK)
    with trace.stage("guardrails"):
        done = plan.checked_rules
        if done is None:
            todo = [c for c in pool if c.source == "rules"] + \
                [c for c in pool if c.source != "rules"]
        else:  # the rules were checked while the model ran: only the rest is left
            rules = {id(c) for c in plan.rules}
            todo = [c for c in pool if id(c) not in rules]
        checked = (done or []) + run_checks(todo, ctx, metrics=services.metrics,
                                            tenant=tenant, stop_at=stop_at)
    with trace.stage("rank"):
        pool = [c for c in pool if any(c is k for k in checked)]  # in pool order
        picked = _pick(pool, plan, request.n, policy, embed=not quick and _in_time(stop_at))
        if policy.fill_with_rules and len(picked) < request.n:
            pool += run_checks(_filler_candidates(user, sender=msg.from_,
                                                  max_chars=request.max_chars),
                               ctx, metrics=services.metrics, tenant=tenant)
            picked = _pick(pool, plan, request.n, policy, embed=not quick and _in_time(stop_at))
        return sorted((pool[i] for i in picked), key=lambda c: -c.score)


def _check_context(request: SmartReplyRequest, plan: _Plan):
    """One guardrail context per request: what a reply may draw on, what is untrusted."""
    msg, user = request.message, plan.user
    return make_context(
        sources=[msg.from_, msg.subject, msg.body, *(t.body for t in request.thread),
                 *(p.context for p in user.pairs), *(p.reply for p in user.pairs),
                 plan.prefs.signature or "", user.profile.signoff or ""],
        untrusted=[msg.body, msg.subject, *(t.body for t in request.thread)],
        max_chars=request.max_chars, emoji_allowed=True, language=plan.prefs.locale or None)


def _precheck(services: Services, tenant: str, request: SmartReplyRequest, plan: _Plan,
              trace: Trace) -> None:
    """While the model runs: check the rules and embed them (and the user's voice), so
    that after it only the model's own candidates are left to check and embed. Nothing
    here depends on what the model writes; it is the work ``_choose`` did after it."""
    plan.ctx = _check_context(request, plan)
    with trace.stage("guardrails"):
        plan.checked_rules = run_checks(plan.rules, plan.ctx, metrics=services.metrics,
                                        tenant=tenant)
    if plan.vectors is not None:
        plan.vectors.ensure([c.bare for c in plan.checked_rules] + list(plan.user.voice))


def _in_time(stop_at: float | None) -> bool:
    return stop_at is None or time.monotonic() < stop_at


def _pick(pool: list[Candidate], plan: _Plan, n: int, policy: GenerationPolicy, *,
          embed: bool):
    """Score and pick: the model's candidates for ``model_slots``, then any candidate,
    one per intent; then, if fewer than ``n``, any intent (still no near-duplicates).
    Returns the indices."""
    vecs = voice = None
    if embed and plan.vectors is not None:
        vecs = plan.vectors.matrix([c.bare for c in pool])
        voice = plan.vectors.matrix(plan.user.voice) if plan.user.voice else None
    score_all(pool, vecs=vecs, message_vec=plan.message_vec if vecs is not None else None,
              voice_vecs=voice)
    if plan.likelihoods is not None:
        apply_likelihood(pool, plan.likelihoods)
    llm = [i for i, c in enumerate(pool) if c.source == "llm"]
    first = n if policy.model_slots is None or not policy.fill_with_rules else \
        min(n, policy.model_slots)
    picked = pick_distinct(pool, vecs, first, eligible=llm)
    if policy.fill_with_rules:
        # The rest of the slots: model and rule candidates compete on score.
        picked = pick_distinct(pool, vecs, n, chosen=picked)
        picked = pick_distinct(pool, vecs, n, chosen=picked, one_per_intent=False)
    return picked


def _answer_from_rules(services: Services, tenant: str, tenant_id: int,
                       request: SmartReplyRequest) -> tuple[_Plan, list[Candidate]]:
    """The whole answer of an overloaded moment, in one short job: canned rules checked
    and ranked without embeddings."""
    plan = _quick_plan(services, tenant_id, request)
    return plan, _choose(services, tenant, request, plan, plan.rules, DEFAULT_POLICY, quick=True)


async def suggest_replies(*, services: Services, tenant_id: int, request: SmartReplyRequest,
                          request_id: str, tenant: str | None = None,
                          policy: GenerationPolicy = DEFAULT_POLICY,
                          correlation_id: str | None = None,
                          arrived: float | None = None) -> SmartReplyResponse:
    """Suggest ``request.n`` distinct replies, always within the request's deadline
    (counted from ``arrived``, a ``time.monotonic()`` value, when given).

    ``tenant`` is the tenant's name, the label of its metrics (as for HTTP requests and
    subject lines); callers without one (evals, benchmarks) get the id. ``correlation_id``
    is the client's X-Request-ID, stored with the record for tracing only.

    The CPU-bound parts (embedding, retrieval, guardrails, bookkeeping) run in the
    services' work pool, earliest deadline first, so the event loop keeps every other
    request's timers on time; work that cannot start in time raises ``Overloaded``
    (503), and so does a request past ``max_inflight_generations``."""
    s = services.settings
    _check_bounds(request, s)
    cache = services.reply_cache
    slot = None
    if cache.enabled and policy is DEFAULT_POLICY:
        # The versions are read before computing: a change meanwhile orphans the entry
        # stored under them, so it is never served stale.
        user_version, tenant_version = cache.versions(tenant_id, request.user_id)
        slot = (user_version, answer_cache.digest(services, request,
                                                  tenant_version=tenant_version))
        cached = cache.get(tenant_id, request.user_id, *slot)
        if cached is not None:
            return await answer_cache.serve(
                services, cached, tenant_id=tenant_id, request=request, request_id=request_id,
                tenant=tenant or str(tenant_id), correlation_id=correlation_id,
                started=arrived if arrived is not None else time.monotonic())
    with services.admission.enter():
        return await _suggest(services=services, tenant_id=tenant_id, request=request,
                              request_id=request_id, tenant=tenant, policy=policy,
                              correlation_id=correlation_id, arrived=arrived, cache_slot=slot)


async def _suggest(*, services: Services, tenant_id: int, request: SmartReplyRequest,
                   request_id: str, tenant: str | None, policy: GenerationPolicy,
                   correlation_id: str | None, arrived: float | None,
                   cache_slot: tuple[int, str] | None = None) -> SmartReplyResponse:
    s = services.settings
    explicit_ms = request.deadline_ms or policy.deadline_ms
    deadline_ms = explicit_ms or s.smart_reply_deadline_ms
    # Keep a margin for guardrails and selection (at most half the deadline). Without an
    # explicit deadline from the client, sampling also stops at the model budget (the
    # latency target); a client that asks for a long deadline is willing to wait.
    deadline = Deadline.plan(
        deadline_ms, reserve_ms=min(s.smart_reply_margin_ms, deadline_ms * 0.5),
        model_budget_ms=None if explicit_ms else s.smart_reply_model_budget_ms,
        start=arrived)
    msg = request.message
    tenant = tenant or str(tenant_id)

    def respond(suggestions, *, triggered=True, personalized=False, context_ids=(),
                model=None, version=None, reason=None, explanation=None) -> SmartReplyResponse:
        return SmartReplyResponse(
            request_id=request_id, triggered=triggered, suggestions=suggestions,
            personalized=personalized, context_ids=list(context_ids), model=model,
            prompt_version=version, fallback_reason=reason,
            latency_ms=deadline.elapsed_ms(), explanation=explanation)

    decision = trigger.decide(msg, max_body_chars=s.smart_reply_max_body_chars)
    if not decision.triggered:
        log.debug("smart reply not triggered: %s", decision.reason)
        return respond([], triggered=False, explanation=(
            "No suggestions: this message does not look like one to reply to quickly."
            if request.explain else None))

    work = services.work
    # What was served and why (GET /v1/requests/{id}); stage timings and spans.
    trace = Trace(request_id=request_id, task=TASK, tracer=services.tracing,
                  metrics=services.metrics)
    plan = None
    # Queue for the embedding and retrieval only if they could start before the model
    # would have to stop; else (or if they did not start in time) answer from rules now.
    if time.monotonic() + work.expected_wait_s() < deadline.model_at:
        try:
            plan = await work.run(_prepare, services, tenant_id, request, policy, trace,
                                  due=deadline.at, start_by=deadline.model_at)
        except Late:
            pass
    model = error = None
    raw_count = 0
    if plan is None:
        overloaded = True
        # Ahead of all queued work (due at our start): a few milliseconds of rules.
        plan, chosen = await work.run(_answer_from_rules, services, tenant, tenant_id, request,
                                      due=deadline.start)
        pool = plan.rules
    else:
        llm: list[Candidate] = []
        scoring = policy.rank == "likelihood" and plan.prompt is not None
        if plan.prompt is not None:
            sample_until = deadline.model_at
            if scoring:
                sample_until -= min(s.smart_reply_score_ms / 1000,
                                    (deadline.model_at - time.monotonic()) / 2)
            # The rules' checks and vectors, in the work pool while the model is awaited.
            pre = asyncio.ensure_future(work.run(_precheck, services, tenant, request, plan,
                                                 trace, due=deadline.at,
                                                 start_by=deadline.model_at))
            try:
                with trace.stage("model"):
                    got = await generate.sample(
                        services.llm, plan.prompt.messages,
                        samples=policy.samples or s.smart_reply_samples, deadline=sample_until,
                        max_tokens=s.smart_reply_max_tokens, models=policy.models)
            except BaseException:  # cancelled (the client went away): no orphaned job
                pre.cancel()
                raise
            primary = services.llm.first(policy.models)
            model, error, raw_count = got.model or primary, got.error, len(got.texts)
            llm = _llm_candidates(got.texts, incoming=plan.incoming, style=plan.user.profile,
                                  sender=msg.from_, max_chars=request.max_chars,
                                  prior=s.smart_reply_model_prior)
            try:
                await pre
            except Late:  # not started in time: _choose checks the rules itself
                plan.ctx = plan.checked_rules = None
        pool = llm + (plan.rules if policy.fill_with_rules else [])
        if scoring:
            with trace.stage("score"):
                plan.likelihoods = await _likelihoods(services, plan, pool, policy,
                                                      deadline=deadline.model_at)
        finish_by = deadline.finish_by()
        overloaded = False
        try:
            chosen = await work.run(_choose, services, tenant, request, plan, pool, policy,
                                    (finish_by + deadline.at) / 2, trace, due=deadline.at,
                                    start_by=finish_by)
        except Late:
            # No time left to check the model's candidates: the rules, checked and ranked
            # without embeddings, ahead of all queued work.
            overloaded = True
            pool = plan.rules
            chosen = await work.run(lambda: _choose(services, tenant, request, plan, pool,
                                                    DEFAULT_POLICY, None, trace, quick=True),
                                    due=deadline.start)
    user = plan.user
    served_llm = any(c.source == "llm" for c in chosen)

    reason = None
    if overloaded:
        reason = "overloaded"
    elif policy.use_model and not served_llm:
        # The model failed, or answered but nothing it wrote survived cleaning/guardrails,
        # or what survived scored below the rules.
        if any(c.source == "llm" and c.passed for c in pool):
            reason = "outranked"
        else:
            reason = error or ("guardrail" if raw_count else "timeout")
    elif not (plan.prefs.personalization and policy.personalize):
        reason = "personalization_off"
    elif not user.has_history:
        reason = "no_history"

    version = plan.prompt.version if plan.prompt is not None else None
    used_ids = list(dict.fromkeys(
        (plan.prompt.example_ids if served_llm else [])
        + [c.context_id for c in chosen if c.context_id]))
    suggestions = [Suggestion(text=c.text, source=c.source, score=round(c.score, 3),
                              checks=c.checks) for c in chosen]
    served_model = model if served_llm else None
    trace.model, trace.prompt_version, trace.fallback_reason = served_model, version, reason
    trace.variant = policy.variant
    trace.model_error = error
    fill_replies(trace, user=user, prompt=plan.prompt, pool=pool, chosen=chosen)
    trace.serve(suggestions)

    # Ahead of every other request's work (due at our start): the answer is ready.
    await record_served(services, tenant_id=tenant_id, tenant=tenant, request=request,
                        request_id=request_id, correlation_id=correlation_id,
                        suggestions=suggestions, model=served_model, prompt_version=version,
                        reason=reason, message_vec=plan.message_vec, trace=trace,
                        due=deadline.start)
    trace.finish()
    response = respond(suggestions, personalized=user.has_history, context_ids=used_ids,
                       model=served_model, version=version, reason=reason,
                       explanation=short_reason(trace) if request.explain else None)
    if cache_slot is not None and reason in answer_cache.CACHEABLE_REASONS:
        answer_cache.remember(services, tenant_id, request.user_id, cache_slot, response,
                              plan.message_vec, trace)
    return response
