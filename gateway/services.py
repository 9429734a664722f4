"""The gateway's long-lived parts, built once from settings.

``build_services`` is what the HTTP app's lifespan, the CLI and the eval harness
all call, so they run the very same pipeline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from gateway.db import Database
from gateway.llm import LLMClient, register_providers
from gateway.llm.providers import LocalLlama
from gateway.load import Admission, WorkPool
from gateway.metrics import Metrics
from gateway.ratelimit import RateLimiter
from gateway.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    metrics: Metrics
    llm: LLMClient
    rate_limiter: RateLimiter
    auth_failures: RateLimiter  # per client address
    work: WorkPool  # request CPU work, earliest deadline first (gateway.load)
    admission: Admission  # the bound on generation requests in flight
    embedder: object | None = None  # embeddings.embedder.Embedder
    history: object | None = None  # embeddings.history.HistoryService
    local_llm: LocalLlama | None = None
    drift: object | None = None  # gateway.usecases.drift.DriftMonitor
    tracing: object | None = None  # gateway.tracing.Tracing (None: tracing off)
    ready: bool = False
    load_seconds: dict[str, float] = field(default_factory=dict)

    def close(self) -> None:
        self.ready = False
        self.work.close()
        if self.tracing is not None:
            self.tracing.close()
        if self.history is not None:
            self.history.close()
        self.db.close()


def build_services(settings: Settings) -> Services:
    """Open the store and wire the parts; cheap. ``start_services`` does the loading."""
    from embeddings.batching import BatchingEmbedder
    from embeddings.embedder import load_embedder
    from embeddings.history import HistoryService
    from gateway.tracing import build_tracing, quiet_litellm
    from gateway.usecases.drift import DriftMonitor
    from gateway.usecases.replies.personal import bare_reply

    quiet_litellm(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_path)
    db.create_all()
    metrics = Metrics()
    local = register_providers(
        local_model_path=settings.local_model_path
        if any(m.startswith("local/") for m in settings.models) else "",
        n_ctx=settings.local_n_ctx,
        n_threads=settings.local_n_threads,
    )
    llm = LLMClient(
        settings.models,
        timeout_s=settings.llm_timeout_s,
        retries=settings.llm_retries,
        concurrency=settings.llm_concurrency,
        metrics=metrics,
    )
    embedder = load_embedder(settings.embedding_model, batch_size=settings.embedding_batch_size,
                             eager=False, threads=settings.embedding_threads,
                             max_tokens=settings.embedding_max_tokens)
    if settings.embedding_batch_wait_ms > 0:
        embedder = BatchingEmbedder(embedder, wait_ms=settings.embedding_batch_wait_ms)
    history = HistoryService(db=db, embedder=embedder, index_dir=settings.index_dir,
                             cache_mb=settings.history_index_cache_mb,
                             snapshot_every=settings.history_snapshot_every,
                             reply_text=bare_reply)
    return Services(settings=settings, db=db, metrics=metrics, llm=llm,
                    rate_limiter=RateLimiter(settings.rate_limit_per_minute),
                    auth_failures=RateLimiter(
                        settings.auth_failures_per_minute,
                        what="failed authentications/minute from this address",
                        setting="PERSONA_AUTH_FAILURES_PER_MINUTE (or send a valid key)"),
                    work=WorkPool(settings.cpu_workers),
                    admission=Admission(settings.max_inflight_generations),
                    embedder=embedder, history=history, local_llm=local,
                    drift=DriftMonitor(settings, metrics), tracing=build_tracing(settings))


def start_services(services: Services) -> None:
    """Load models and check the index against the store; then the gateway is ready."""
    s = services.settings
    t0 = time.monotonic()
    if s.load_models:
        services.embedder.load()
        # One real call each, so the first user request does not pay for lazy
        # initialisation (thread pools, kernels, the chat template) inside its deadline.
        services.embedder.embed(["warm-up"])
        services.load_seconds["embedder"] = time.monotonic() - t0
        t1 = time.monotonic()
        if services.local_llm is not None:
            services.local_llm.load()
        # Through litellm (its first call in a process costs about a second of lazy
        # set-up): the local model when it is in the chain, else the free fake provider,
        # so start-up never spends tokens on a hosted model.
        warm_model = next((m for m in s.models if m.startswith("local/")), "fake/warm-up")
        warm_prompt = [{"role": "user", "content": "Hi"}]
        if services.local_llm is not None:
            from gateway.usecases.replies.prompt import warm_up_messages

            warm_prompt = warm_up_messages(services.local_llm.count_tokens)
        LLMClient.call_blocking(warm_model, warm_prompt, 60.0, {"max_tokens": 1})
        services.load_seconds["local_llm" if services.local_llm else "litellm"] = (
            time.monotonic() - t1)
        from guardrails import warm_up as warm_up_guardrails  # profanity list, langdetect

        t3 = time.monotonic()
        warm_up_guardrails()
        services.load_seconds["guardrails"] = time.monotonic() - t3
    t2 = time.monotonic()
    services.history.open()
    services.load_seconds["history"] = time.monotonic() - t2
    services.ready = True
    services.metrics.ready.set(1)
    log.info("gateway ready in %.1fs (%s)", time.monotonic() - t0, services.load_seconds)
