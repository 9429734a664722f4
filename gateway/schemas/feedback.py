from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.schemas.common import StrictModel

Event = Literal["shown", "selected", "sent", "edited", "dismissed", "opened", "clicked"]


class FeedbackIn(StrictModel):
    request_id: str = Field(min_length=1, max_length=64)
    index: int = Field(ge=0, le=20)
    event: Event
    final_text: str | None = Field(default=None, max_length=20_000)


class FeedbackAccepted(BaseModel):
    accepted: bool = True
    history_id: str | None = None
