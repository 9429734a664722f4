from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from embeddings.items import USER_ID_PATTERN
from gateway.schemas.common import GenerationMeta, StrictModel, Suggestion


class Campaign(StrictModel):
    body: str = Field(min_length=1, max_length=50_000)
    brand: str | None = Field(default=None, max_length=100)
    tone: str | None = Field(default=None, max_length=40)

    @field_validator("body")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("campaign body is blank; send the email's text")
        return v


class SubjectLineOptions(StrictModel):
    """What to write and within which limits: one request's, or a whole campaign's
    (``gateway.schemas.campaigns``)."""

    campaign: Campaign
    n: int = Field(default=5, ge=1, le=10)
    max_chars: int = Field(default=60, ge=15, le=200)
    emoji: bool = False
    # Hard caps; the settings max_banned_words / max_banned_word_chars may be tighter.
    banned_words: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=200)
    deadline_ms: int | None = Field(default=None, ge=50, le=60_000)


class SubjectLineRequest(SubjectLineOptions):
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)


class SubjectLineResponse(GenerationMeta):
    subject_lines: list[Suggestion]
