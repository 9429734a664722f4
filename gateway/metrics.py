"""Prometheus metrics, one registry per app so tests and workers never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "persona_http_requests_total", "HTTP requests", ["tenant", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "persona_http_request_seconds", "HTTP latency", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.llm_calls = Counter(
            "persona_llm_calls_total", "Model calls by outcome", ["model", "outcome"], registry=r
        )
        self.llm_latency = Histogram(
            "persona_llm_call_seconds", "Model call latency", ["model"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.guardrail = Counter(
            "persona_guardrail_verdicts_total", "Guardrail verdicts per check",
            ["tenant", "check", "verdict"], registry=r,
        )
        self.fallbacks = Counter(
            "persona_fallbacks_total", "Responses served with a fallback reason",
            ["tenant", "task", "reason"], registry=r,
        )
        self.suggestions = Counter(
            "persona_suggestions_total", "Suggestions served by source",
            ["tenant", "task", "source"], registry=r,
        )
        self.stage_latency = Histogram(
            "persona_stage_seconds", "Time per generation stage (retrieve, prompt, model, "
            "guardrails, rank)", ["task", "stage"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.drift = Gauge(
            "persona_drift", "Drift of a signal: latest window against the one before",
            ["tenant", "task", "signal"], registry=r,
        )
        self.drift_alarm = Gauge(
            "persona_drift_alarm", "1 while a drift signal is past its threshold",
            ["tenant", "task", "signal"], registry=r,
        )
        self.purged = Counter(
            "persona_retention_purged_total", "Rows deleted by the retention purge",
            ["table"], registry=r,
        )
        self.ready = Gauge("persona_ready", "1 when models and store are loaded", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
