from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from embeddings.items import HistoryItem
from gateway.core.settings import MAX_TEXT_CHARS
from gateway.schemas.common import IsoDatetime, StrictModel

Kind = Literal["sent_reply", "sent_email", "subject_opened", "subject_ignored", "note"]
ITEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+\-/]{0,199}$"
MAX_PAGE = 500


class HistoryItemIn(StrictModel):
    id: str = Field(pattern=ITEM_ID_PATTERN)
    kind: Kind
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    context: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    subject: str | None = Field(default=None, max_length=1000)
    timestamp: IsoDatetime | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is blank")
        return v

    @field_validator("timestamp")
    @classmethod
    def _fits_in_utc(cls, v: datetime | None) -> datetime | None:
        # Stored as UTC: an offset that pushes the instant past year 9999 or before
        # year 1 cannot be stored (and used to be a 500 from datetime arithmetic).
        if v is not None and v.tzinfo is not None:
            try:
                v.astimezone(UTC)
            except OverflowError:
                raise ValueError(
                    "timestamp is outside years 1-9999 once converted to UTC; send it in "
                    "UTC (with a Z suffix) or with a smaller offset") from None
        return v

    def to_item(self) -> HistoryItem:
        """The history store's own type for this item."""
        return HistoryItem(id=self.id, kind=self.kind, text=self.text, context=self.context,
                           subject=self.subject, timestamp=self.timestamp)


class HistoryBatchIn(StrictModel):
    items: list[HistoryItemIn] = Field(min_length=1)


class HistoryAccepted(BaseModel):
    accepted: int
    ids: list[str]


class HistoryItemOut(BaseModel):
    id: str
    kind: Kind
    text: str
    context: str | None
    subject: str | None
    timestamp: datetime | None
    created_at: datetime


class HistoryQuery(BaseModel):
    """Query of a history export. Not strict (query values arrive as text), but an
    unknown parameter (``?limt=50``) is a 422 rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=MAX_PAGE, description="Items per page.")
    cursor: str | None = Field(default=None, max_length=64,
                               description="`next_cursor` of the previous page.")


class HistoryPage(BaseModel):
    items: list[HistoryItemOut]
    next_cursor: str | None


class PreferencesIn(StrictModel):
    personalization: bool = True
    locale: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
    signature: str | None = Field(default=None, max_length=500)


class PreferencesOut(BaseModel):
    personalization: bool
    locale: str
    signature: str | None
