"""Operator views: a request's explanation, drift per task."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.schemas.common import CheckResult, Suggestion


class HistoryUse(BaseModel):
    id: str
    similarity: float
    contributed: list[str] = Field(description=(
        "prompt_example, rule_reply, voice (smart replies); ranking, candidate_source "
        "(subject lines)"))
    kind: str | None = None


class CandidateTrace(BaseModel):
    text: str
    source: str
    origin: str = Field(description="llm, rules (smart replies); llm, history, body (subjects)")
    score: float
    components: dict[str, float] = Field(default_factory=dict)
    checks: list[CheckResult] = Field(default_factory=list)
    status: str = Field(description="served, blocked, unchecked or not_selected")
    dropped_by: str | None = Field(default=None, description="the rule that blocked it")


class ExplanationOut(BaseModel):
    request_id: str
    task: str
    user_id: str | None = None
    created_at: datetime
    model: str | None = None
    prompt_version: str | None = None
    variant: str | None = None
    fallback_reason: str | None = None
    model_error: str | None = None
    history: list[HistoryUse] = Field(default_factory=list)
    style: dict | None = None
    served: list[Suggestion] = Field(default_factory=list)
    candidates: list[CandidateTrace] = Field(default_factory=list)
    stages_ms: dict[str, float] = Field(default_factory=dict)


class DriftSignal(BaseModel):
    signal: str
    value: float
    threshold: float
    alarm: bool


class TaskDrift(BaseModel):
    task: str
    window: int
    observed: int
    ready: bool = Field(description="both windows are full (signals are computed)")
    signals: list[DriftSignal] = Field(default_factory=list)


class MonitoringOut(BaseModel):
    tenant: str
    tasks: list[TaskDrift] = Field(default_factory=list)
