"""One root exception, typed subclasses that carry what the handler needs.

Every error the gateway raises on purpose is a ``GatewayError``; ``gateway.app``
maps it to the docs/api.md error body in exactly one place.
"""

from __future__ import annotations


class GatewayError(Exception):
    status_code = 500
    type = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(type_: str, message: str, request_id: str, *, field: str | None = None) -> dict:
    """The docs/api.md error body: ``{"error": {"type", "message", "request_id"[, "field"]}}``."""
    err = {"type": type_, "message": message, "request_id": request_id}
    if field:
        err["field"] = field
    return {"error": err}


class ConfigError(GatewayError):
    type = "config_error"


class BadInput(GatewayError):
    status_code = 422
    type = "invalid_request"


class PayloadTooLarge(GatewayError):
    status_code = 413
    type = "payload_too_large"


class RequestTimeout(GatewayError):
    status_code = 408
    type = "request_timeout"


class Unauthorized(GatewayError):
    status_code = 401
    type = "unauthorized"


class Forbidden(GatewayError):
    status_code = 403
    type = "forbidden"


class NotFound(GatewayError):
    status_code = 404
    type = "not_found"


class Conflict(GatewayError):
    status_code = 409
    type = "conflict"


class RateLimited(GatewayError):
    status_code = 429
    type = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int):
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class NotReady(GatewayError):
    status_code = 503
    type = "not_ready"


class LLMError(GatewayError):
    """A model call failed. Never reaches a client: use cases fall back to rules."""

    type = "llm_error"

    def __init__(self, message: str, *, model: str | None = None, attempts: int = 0):
        super().__init__(message)
        self.model = model
        self.attempts = attempts


class LLMTimeout(LLMError):
    type = "llm_timeout"


class LLMOverloaded(LLMError):
    """So many calls wait for a model slot that this one could not be answered before
    its deadline: the use case answers from rules at once instead of queueing."""

    type = "llm_overloaded"


class Overloaded(GatewayError):
    """More generation requests in flight than ``max_inflight_generations``."""

    status_code = 503
    type = "overloaded"

    def __init__(self, message: str, *, retry_after_s: int = 1):
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class SchemaOutOfDate(ConfigError):
    """The database was made by an older (or newer) gateway; start refuses to guess."""
