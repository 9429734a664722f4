"""Experiments, staged rollout and the kill switch: admin API bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from gateway.schemas.common import StrictModel

Task = Literal["smart_replies", "subject_lines"]


def _as_utc(dt: datetime) -> datetime:
    # SQLite hands stored datetimes back naive (they are UTC): say so, as RFC 3339 wants.
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
CONTROL = "control"


class Overrides(StrictModel):
    """What a variant changes in the pipeline; an omitted field keeps the default."""

    models: list[str] | None = Field(
        default=None, min_length=1, max_length=8,
        description="Model chain to call, primary first; each must be in the configured "
                    "chain (PERSONA_MODELS).")
    use_model: bool | None = Field(default=None,
                                   description="false: rules only (no model call).")
    fill_with_rules: bool | None = Field(
        default=None, description="false: model only (rules answer only when it gave nothing).")
    personalize: bool | None = Field(
        default=None, description="false: do not read the user's history (a user who "
                                  "switched personalization off stays off either way).")
    samples: int | None = Field(default=None, ge=1, le=8,
                                description="Smart replies only: model samples per request.")
    deadline_ms: int | None = Field(
        default=None, ge=50, le=60000,
        description="Deadline for requests that send no deadline_ms.")
    subject_weights: dict[str, float] | None = Field(
        default=None, description="Subject lines only: ranker weights to change, by name "
                                  "(relevance, preference, authorship, style, brevity, "
                                  "prior_llm, prior_history, prior_body, first_bonus).")


class VariantIn(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    overrides: Overrides = Field(default_factory=Overrides)


class ExperimentIn(StrictModel):
    name: str = Field(pattern=NAME_PATTERN, description="Unique per tenant; the id in paths.")
    task: Task
    variants: list[VariantIn] = Field(
        min_length=1, max_length=10,
        description="A variant named 'control' with no overrides is added when missing.")
    allocation: dict[str, float] = Field(
        default_factory=dict,
        description="Percent of newly assigned users per treatment; control takes the rest.")
    start: bool = Field(default=True, description="false: create it stopped (start it later).")
    min_detectable_lift: float = Field(
        default=0.1, gt=0, le=10,
        description="Smallest relative lift of the primary metric worth detecting (0.1 = +10%).")
    baseline_rate: float | None = Field(
        default=None, gt=0, lt=1,
        description="Expected control rate of the primary metric for the power calculation; "
                    "omitted: the observed control rate.")
    alpha: float = Field(default=0.05, gt=0, le=0.2, description="Two-sided error rate.")
    power: float = Field(default=0.8, ge=0.5, le=0.99)


class RampIn(StrictModel):
    variant: str = Field(pattern=NAME_PATTERN)
    percent: float = Field(ge=0, le=100, description="Share of newly assigned users.")


class RollbackIn(StrictModel):
    variant: str | None = Field(default=None, pattern=NAME_PATTERN,
                                description="Omitted: roll back every treatment.")


class VariantOut(BaseModel):
    name: str
    overrides: dict
    percent: float
    rolled_back: bool


class ExperimentOut(BaseModel):
    name: str
    task: Task
    status: Literal["running", "stopped"]
    variants: list[VariantOut]
    epoch: int
    min_detectable_lift: float
    baseline_rate: float | None
    alpha: float
    power: float
    created_at: UtcDatetime
    stopped_at: UtcDatetime | None


class ExperimentList(BaseModel):
    data: list[ExperimentOut]


class KillSwitchIn(StrictModel):
    rules_only: bool


class KillSwitchOut(BaseModel):
    task: Task
    rules_only: bool


class KillSwitchList(BaseModel):
    data: list[KillSwitchOut]


class RateOut(BaseModel):
    users: int
    trials: int
    successes: int
    rate: float
    ci_low: float
    ci_high: float


class LiftOut(BaseModel):
    difference: float
    difference_ci: tuple[float, float]
    lift: float | None
    lift_ci: tuple[float, float] | None
    significant: bool


class MetricOut(BaseModel):
    name: str
    primary: bool
    description: str
    rates: dict[str, RateOut]
    vs_control: dict[str, LiftOut]


class SampleRatioOut(BaseModel):
    chi2: float
    dof: int
    p_value: float
    mismatch: bool


class StoppingOut(BaseModel):
    rule: Literal["fixed_horizon"] = "fixed_horizon"
    required_per_arm: int | None
    baseline_rate: float | None
    min_detectable_lift: float
    alpha: float = Field(description="Per comparison (Bonferroni over the treatments).")
    power: float
    progress: dict[str, float] = Field(description="Effective sample size / required, per arm.")
    decision: Literal["keep_waiting", "significant", "no_difference", "sample_ratio_mismatch"]
    message: str


class PointOut(BaseModel):
    at: UtcDatetime
    rates: dict[str, RateOut]


class ResultsOut(BaseModel):
    experiment: str
    task: Task
    status: Literal["running", "stopped"]
    exposures: dict[str, int]
    metrics: list[MetricOut]
    sample_ratio: SampleRatioOut
    stopping: StoppingOut
    timeline: list[PointOut] = Field(description="Cumulative primary-metric rates over time.")
