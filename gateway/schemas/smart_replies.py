from __future__ import annotations

from pydantic import Field

from embeddings.items import USER_ID_PATTERN
from gateway.schemas.common import GenerationMeta, StrictModel, Suggestion


class IncomingMessage(StrictModel):
    from_: str = Field(alias="from", min_length=1, max_length=320,
                       description="Sender address (or 'Name <address>').")
    subject: str = Field(default="", max_length=1000)
    body: str = Field(min_length=1, max_length=50_000)
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="Optional raw headers (List-Unsubscribe, Precedence, …).")

    model_config = StrictModel.model_config | {"populate_by_name": True}


class ThreadMessage(StrictModel):
    from_: str = Field(alias="from", max_length=320)
    body: str = Field(max_length=50_000)
    subject: str = Field(default="", max_length=1000)

    model_config = StrictModel.model_config | {"populate_by_name": True}


class SmartReplyRequest(StrictModel):
    user_id: str = Field(pattern=USER_ID_PATTERN)
    message: IncomingMessage
    thread: list[ThreadMessage] = Field(default_factory=list, max_length=50)
    n: int = Field(default=3, ge=1, le=5)
    max_chars: int = Field(default=200, ge=20, le=2000)
    deadline_ms: int | None = Field(default=None, ge=50, le=60_000)
    explain: bool = Field(default=False, description=(
        "Also return `explanation`: one sentence for the user on why these suggestions."))


class SmartReplyResponse(GenerationMeta):
    triggered: bool
    suggestions: list[Suggestion]
    explanation: str | None = Field(default=None, description=(
        "Why these suggestions, for the user (only when the request sets `explain`)."))


__all__ = ["IncomingMessage", "SmartReplyRequest", "SmartReplyResponse", "ThreadMessage"]
