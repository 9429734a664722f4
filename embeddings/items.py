"""What the history store takes in: its own item type and user-id rule.

The HTTP schema (``gateway.schemas.history.HistoryItemIn``) validates a request's
items and converts them with ``to_item()``; the CLI, feedback and evals build these
directly. This package never sees an HTTP schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.core.errors import BadInput

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+\-]{0,127}$"
_USER_ID = re.compile(USER_ID_PATTERN)


@dataclass(frozen=True)
class HistoryItem:
    id: str  # the caller's id, unique per (tenant, user); the same id is the same item
    kind: str  # sent_reply, sent_email, subject_opened, subject_ignored, note
    text: str
    context: str | None = None  # what the item answered (the incoming message)
    subject: str | None = None
    timestamp: datetime | None = None  # aware or naive UTC


def check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise BadInput("user_id must be 1-128 characters: letters, digits and . _ @ + - "
                       "(starting with a letter or digit)", field="user_id")
