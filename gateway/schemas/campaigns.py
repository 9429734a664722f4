"""Campaigns: one body for an audience, a subject-line job over every recipient."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gateway.schemas.common import Suggestion
from gateway.schemas.experiments import NAME_PATTERN, UtcDatetime
from gateway.schemas.subject_lines import SubjectLineOptions

MAX_AUDIENCE = 1_000_000  # the schema's cap; campaign_max_recipients may only lower it
RowStatus = Literal["pending", "done", "failed"]
JobState = Literal["queued", "running", "done"]


class CampaignIn(SubjectLineOptions):
    """The subject-line request's fields (campaign, n, max_chars, emoji, banned_words,
    deadline_ms) for every recipient of ``audience``."""

    audience: list[Annotated[str, Field(max_length=200)]] = Field(
        min_length=1, max_length=MAX_AUDIENCE, description=(
            "User ids, one per recipient. An unknown user gets plain (unpersonalized) "
            "subject lines; an invalid or repeated id is reported on its row."))
    experiment: str | None = Field(default=None, pattern=NAME_PATTERN, description=(
        "A running subject_lines experiment to split the audience by: each recipient "
        "gets their persisted variant, and an exposure is recorded for them."))


class CampaignOut(BaseModel):
    id: str
    state: JobState
    total: int = Field(description="Recipients in the audience.")
    done: int
    failed: int
    pending: int
    forgotten: int = Field(description="Rows removed because their user was forgotten.")
    experiment: str | None = None
    runner: Literal["local", "queue"] = Field(description=(
        "local: in the gateway's process; queue: `persona worker`s over Redis."))
    created_at: UtcDatetime


class CampaignRowOut(BaseModel):
    row: int = Field(description="Position in the audience, from 0.")
    user_id: str
    status: RowStatus
    subject_lines: list[Suggestion] = Field(default_factory=list)
    request_id: str | None = Field(default=None, description=(
        "The generation's id: send feedback (opened, clicked) with it."))
    variant: str | None = None
    personalized: bool | None = None
    fallback_reason: str | None = None
    error: str | None = Field(default=None, description="Why a failed row failed.")
    finished_at: UtcDatetime | None = None


class CampaignRowsOut(BaseModel):
    data: list[CampaignRowOut]
    next_cursor: int | None = Field(default=None, description=(
        "Pass as `cursor` for the next page; null on the last page."))
