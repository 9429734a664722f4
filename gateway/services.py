"""The gateway's long-lived parts, built once from settings.

``build_services`` is what the HTTP app's lifespan, the CLI and the eval harness
all call, so they run the very same pipeline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from embeddings.embedder import Embedder
from embeddings.vector_cache import VectorCache
from gateway.core.crypto import MasterKeys
from gateway.core.db import Database
from gateway.core.keyring import Keyring
from gateway.core.settings import Settings, is_local_model
from gateway.llm import LLMClient, LocalLlama, ProviderRegistry
from gateway.llm.router import build_router
from gateway.load import Admission, WorkPool
from gateway.metrics import Metrics
from gateway.ratelimit import Limiter, RateLimiter, RedisRateLimiter
from gateway.replycache import RedisReplyCache, ReplyCache, TenantSets
from gateway.storage import create_tables

if TYPE_CHECKING:  # not a cycle: it imports faiss, which app import must not (test_imports)
    from embeddings.history import HistoryService

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    keys: Keyring  # the users' data keys (gateway.core.keyring): every user text is sealed
    metrics: Metrics
    llm: LLMClient
    providers: ProviderRegistry  # our litellm custom providers (local/*), installed
    rate_limiter: Limiter  # per tenant
    auth_failures: Limiter  # per client address
    reply_cache: ReplyCache  # smart replies per user (gateway.replycache)
    work: WorkPool  # request CPU work, earliest deadline first (gateway.load)
    admission: Admission  # the bound on generation requests in flight
    embedder: Embedder | None = None
    shared_vectors: VectorCache | None = None  # texts many requests share (campaigns, response sets)
    history: HistoryService | None = None
    local_llm: LocalLlama | None = None
    drift: object | None = None  # gateway.drift.DriftMonitor
    tracing: object | None = None  # gateway.tracing.Tracing (None: tracing off)
    redis: object | None = None  # redis.Redis shared by the replicas (None: PERSONA_REDIS_URL unset)
    # Per-tenant smart-reply response sets (gateway.usecases.replies.shared).
    tenant_replies: TenantSets = field(default_factory=TenantSets)
    ready: bool = False
    load_seconds: dict[str, float] = field(default_factory=dict)

    def close(self) -> None:
        self.ready = False
        self.providers.uninstall()
        self.work.close()
        if self.tracing is not None:
            self.tracing.close()
        if self.history is not None:
            self.history.close()
        self.db.close()
        if self.redis is not None:
            self.redis.close()


def build_services(settings: Settings) -> Services:
    """Open the store and wire the parts; cheap. ``start_services`` does the loading."""
    from embeddings.batching import BatchingEmbedder
    from embeddings.embedder import load_embedder
    from embeddings.history import HistoryService
    from gateway.drift import DriftMonitor
    from gateway.tracing import build_tracing, quiet_litellm
    from guardrails.emailtext import bare_reply

    quiet_litellm(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    try:
        create_tables(db)
        keys = open_keyring(settings, db)
    except BaseException:
        db.close()
        raise
    metrics = Metrics()
    providers, local = _providers(settings)
    llm = LLMClient(
        settings.models,
        timeout_s=settings.llm_timeout_s,
        retries=settings.llm_retries,
        concurrency=settings.llm_concurrency,
        hosted_concurrency=settings.hosted_llm_concurrency,
        router=build_router(settings.router_config, models=settings.models),
        metrics=metrics,
    )
    embedder = load_embedder(settings.embedding_model, batch_size=settings.embedding_batch_size,
                             eager=False, threads=settings.embedding_threads,
                             max_tokens=settings.embedding_max_tokens,
                             backend=settings.embedding_backend,
                             cache_dir=settings.embedder_cache_dir)
    if settings.embedding_batch_wait_ms > 0:
        embedder = BatchingEmbedder(embedder, wait_ms=settings.embedding_batch_wait_ms)
    history = HistoryService(db=db, embedder=embedder, index_dir=settings.index_dir, keys=keys,
                             cache_mb=settings.history_index_cache_mb,
                             snapshot_every=settings.history_snapshot_every,
                             reply_text=bare_reply)
    redis = _redis(settings)
    return Services(settings=settings, db=db, keys=keys, metrics=metrics, llm=llm,
                    rate_limiter=_limiter(redis, "tenant", settings.rate_limit_per_minute),
                    auth_failures=_limiter(
                        redis, "auth-failures", settings.auth_failures_per_minute,
                        what="failed authentications/minute from this address",
                        setting="PERSONA_AUTH_FAILURES_PER_MINUTE (or send a valid key)"),
                    redis=redis,
                    reply_cache=(ReplyCache(settings.reply_cache_ttl_s, keys=keys)
                                 if redis is None else
                                 RedisReplyCache(settings.reply_cache_ttl_s, keys=keys,
                                                 client=redis)),
                    work=WorkPool(settings.cpu_workers),
                    admission=Admission(settings.max_inflight_generations),
                    embedder=embedder, history=history, local_llm=local,
                    shared_vectors=VectorCache(embedder,
                                                 size=settings.campaign_vector_cache_items),
                    providers=providers,
                    drift=DriftMonitor(settings, metrics), tracing=build_tracing(settings))


def open_keyring(settings: Settings, db: Database) -> Keyring:
    """The master keys from settings (or the embedded default's key file), checked
    against the stored data keys; then any plaintext left by an upgrade is sealed."""
    from gateway.storage import seal_plaintext

    master = MasterKeys.load(settings.master_keys.get_secret_value()
                             if settings.master_keys else None,
                             data_dir=settings.data_dir, embedded=db.is_sqlite)
    keys = Keyring(db, master, ttl_s=settings.key_cache_ttl_s)
    keys.verify()
    seal_plaintext(db, keys)
    return keys


def _redis(settings: Settings):
    """A client for ``PERSONA_REDIS_URL`` (connects on first use), or None when unset."""
    if not settings.redis_url:
        return None
    import redis

    # Short timeouts: Redis is on every request's path, so a stuck server must fail the
    # request (503, the message names the setting), not hold it past its deadline.
    return redis.Redis.from_url(settings.redis_url, socket_timeout=0.5,
                                socket_connect_timeout=0.5, health_check_interval=30)


def _limiter(redis, name: str, per_minute: int, **kw) -> Limiter:
    """Buckets in Redis when the replicas share one, else in this process."""
    if redis is None:
        return RateLimiter(per_minute, **kw)
    return RedisRateLimiter(per_minute, client=redis, prefix=f"persona:rate:{name}:", **kw)


def _providers(settings: Settings) -> tuple[ProviderRegistry, LocalLlama | None]:
    """The custom providers the configured models need, installed into litellm: the
    embedded model when a ``local/*`` model is in the chain; hosted models need none."""
    providers = ProviderRegistry()
    local = None
    if any(map(is_local_model, settings.models)):
        local = LocalLlama(settings.local_model_path, n_ctx=settings.local_n_ctx,
                           n_threads=settings.local_n_threads)
        providers.add("local", local.generate, local.agenerate, local.ascore)
    return providers.install(), local


WarmUpPrompt = Callable[[Callable[[str], int]], list[dict]]  # token counter -> chat messages


def start_services(services: Services, *, warm_up_prompt: WarmUpPrompt | None = None) -> None:
    """Load models and check the index against the store; then the gateway is ready.

    ``warm_up_prompt`` builds the local model's first prompt from its token counter (the
    HTTP app and evals pass the smart-reply use case's, so its fixed instructions are
    prefilled before the first request); without it the warm-up says "Hi"."""
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
        # set-up): the local model when it is in the chain; else litellm's built-in mock
        # answer for the first model, so start-up never spends tokens on (or waits for)
        # a hosted model.
        warm_model = next(filter(is_local_model, s.models), None)
        if warm_model is not None:
            warm_prompt = [{"role": "user", "content": "Hi"}]
            if services.local_llm is not None and warm_up_prompt is not None:
                warm_prompt = warm_up_prompt(services.local_llm.count_tokens)
            LLMClient.call_blocking(warm_model, warm_prompt, 60.0, {"max_tokens": 1})
        else:
            try:
                LLMClient.call_blocking(s.models[0], [{"role": "user", "content": "Hi"}],
                                        60.0, {"max_tokens": 1, "mock_response": "ok"})
            except Exception as exc:  # noqa: BLE001 - litellm raises many types; warm-up only
                log.warning("litellm cannot resolve model %s (%s); requests will answer from "
                            "rules until PERSONA_MODELS names a provider it knows",
                            s.models[0], type(exc).__name__)
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
