from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_serializer

from guardrails.report import CheckReport

FallbackReason = Literal["timeout", "overloaded", "llm_error", "guardrail", "outranked",
                         "personalization_off", "no_history"]
Source = Literal["llm", "rules"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, strict=True)


def _iso_text(value: object) -> object:
    if isinstance(value, (int, float)):  # lax parsing reads numbers as Unix time
        # ValueError, not TypeError: pydantic turns only this into a 422 naming the field.
        raise ValueError(  # noqa: TRY004
            'timestamp must be an ISO 8601 string, e.g. "2026-01-31T09:30:00Z"')
    return value


# FastAPI validates the parsed JSON in Python mode, where a strict datetime refuses
# strings; this one takes ISO 8601 strings (and datetimes from Python callers) only.
IsoDatetime = Annotated[datetime, Strict(False), BeforeValidator(_iso_text)]


class CheckResult(BaseModel):
    name: str
    passed: bool
    action: str | None = Field(default=None, description="block, repair or flag when not passed")
    reason: str | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler):
        # A passed check is just {"name", "passed"} (as in docs/api.md); details only when they say something.
        return {k: v for k, v in handler(self).items() if v is not None}

    @classmethod
    def from_report(cls, report: CheckReport) -> CheckResult:
        return cls(name=report.name, passed=report.passed, action=report.action,
                   reason=report.reason)


class Suggestion(BaseModel):
    text: str
    source: Source
    score: float
    checks: list[CheckResult] = Field(default_factory=list)


class GenerationMeta(BaseModel):
    request_id: str
    personalized: bool
    context_ids: list[str] = Field(default_factory=list)
    model: str | None = None
    prompt_version: str | None = None
    fallback_reason: FallbackReason | None = None
    latency_ms: int
    experiment: str | None = Field(default=None,
                                   description="The experiment this was served under, if any.")
    variant: str | None = Field(default=None, description="Its variant (control included).")


class ErrorDetail(BaseModel):
    type: str
    message: str
    request_id: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": desc}
    for status, desc in {
        400: "Body is not parseable JSON (e.g. not UTF-8)",
        401: "Missing or unknown API key", 403: "Key lacks the needed scope",
        413: "Body too large", 422: "Invalid input (the message names the field)",
        429: "Rate limited (see Retry-After)", 503: "Not ready",
    }.items()
}
