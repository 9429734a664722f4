"""Traces and logs for operators: OpenTelemetry spans per request stage, JSON logs.

``Tracing`` wraps one OpenTelemetry ``TracerProvider`` owned by the services (never
the global one, so tests and apps do not share spans). Off by default
(``tracing_enabled``); with ``otlp_endpoint`` set, spans go to that OTLP/HTTP
collector in batches. Each stage of a generation (retrieve, prompt, model,
guardrails, rank) is a span carrying ``persona.request_id`` and ``persona.task``.

``configure_logging`` sets the log format (text or one JSON object per line) and
keeps litellm's per-call INFO lines out unless ``log_litellm`` asks for them.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from gateway.core.settings import Settings

log = logging.getLogger(__name__)

LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm")


class Tracing:
    """Makes stage spans; ``provider`` is an SDK ``TracerProvider`` (tests pass one with
    an ``InMemorySpanExporter``)."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("persona-gateway")

    def start_request(self, task: str, request_id: str):
        """The request's root span and the context its stages are children of (stages
        run in work-pool threads, so the parent is passed, not taken from the thread)."""
        from opentelemetry import trace

        span = self.tracer.start_span(task, attributes={"persona.request_id": request_id,
                                                        "persona.task": task})
        return span, trace.set_span_in_context(span)

    def stage(self, name: str, parent, request_id: str, task: str):
        """A context manager: a span named ``name`` under ``parent`` (a context)."""
        return self.tracer.start_as_current_span(
            name, context=parent,
            attributes={"persona.request_id": request_id, "persona.task": task})

    def close(self) -> None:
        self.provider.shutdown()


def build_tracing(settings: Settings) -> Tracing | None:
    """The tracing the settings ask for, or None (off, the default)."""
    if not settings.tracing_enabled:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:  # pragma: no cover - a dependency of the package
        log.warning("tracing_enabled is set but opentelemetry-sdk is not installed; "
                    "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http")
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": "persona-gateway"}))
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    return Tracing(provider)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a record's ``request_id`` extra is kept."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
               "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        for key in ("request_id", "tenant", "task", "signal"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(settings: Settings, *, handler: logging.Handler | None = None) -> None:
    """Root logging per the settings (the CLI's ``serve`` calls this once)."""
    handler = handler or logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    quiet_litellm(settings)
    # Alembic announces its plugins and DDL mode at INFO on every start, when it only
    # checks the schema; `persona db upgrade` reports what it changed itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def quiet_litellm(settings: Settings) -> None:
    """litellm logs an INFO line per call; keep only its warnings unless asked."""
    level = logging.NOTSET if settings.log_litellm else logging.WARNING
    for name in LITELLM_LOGGERS:
        logging.getLogger(name).setLevel(level)
