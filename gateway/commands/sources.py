"""Readers that turn export files into history items for ``persona ingest``.

Each reader yields ``Record``s: an item, or why a line/message was skipped or
rejected, with where it was (``line 12`` / ``message 3``) so the summary can point
at it. Readers never raise for bad content; only an unreadable file is fatal.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import json
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from gateway.commands.mailtext import body_text, split_reply
from gateway.schemas.history import HistoryItemIn


@dataclass(frozen=True)
class Record:
    where: str
    item: HistoryItemIn | None = None
    error: str | None = None
    skipped: str | None = None


def describe(exc: ValidationError) -> str:
    e = exc.errors()[0]
    field = ".".join(str(p) for p in e["loc"]) or "item"
    msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"{field}: {msg}{more}"


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".mbox", ".mbx") or path.name.lower() in ("sent", "sent mail", "sent items"):
        return "mbox"
    with open(path, "rb") as f:
        head = f.read(5)
    return "mbox" if head == b"From " else "jsonl"


def count_jsonl(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def read_jsonl(path: Path) -> Iterator[Record]:
    """One history item per line, in the POST /v1/users/{id}/history item format."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Record(where, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            try:
                yield Record(where, item=HistoryItemIn.model_validate(obj))
            except ValidationError as exc:
                yield Record(where, error=describe(exc))


_ID_BAD = re.compile(r"[^A-Za-z0-9._:@+\-/]")


def message_item_id(message_id: str | None, fallback: str) -> str:
    """A history id from a Message-ID (stable, so re-ingesting the mbox is a no-op)."""
    mid = (message_id or "").strip().strip("<>").strip()
    mid = _ID_BAD.sub("_", mid).lstrip("._:@+-/")
    if not mid:
        return "mbox-" + hashlib.sha256(fallback.encode()).hexdigest()[:24]
    if len(mid) > 200:
        return "mbox-" + hashlib.sha256(mid.encode()).hexdigest()[:40]
    return mid


@dataclass(frozen=True)
class _Mail:
    where: str
    message_id: str
    in_reply_to: str
    sender: str
    subject: str | None
    date: object
    own: str
    quoted: str


_MSG_ID = re.compile(r"<[^<>\s]+>")


def _first_id(value) -> str:
    found = _MSG_ID.findall(str(value or ""))
    return found[0] if found else str(value or "").strip()


def _answered_id(msg) -> str:
    """In-Reply-To, else the last References entry (some clients only set that)."""
    for header, pick in (("in-reply-to", 0), ("references", -1)):
        ids = _MSG_ID.findall(str(msg[header] or ""))
        if ids:
            return ids[pick]
    return ""


def _parse(mbox_path: Path) -> list[_Mail]:
    box = mailbox.mbox(mbox_path, factory=lambda f: email.message_from_binary_file(
        f, policy=email.policy.default), create=False)
    mails = []
    try:
        for n, msg in enumerate(box, start=1):
            if msg is None:
                continue
            own, quoted = split_reply(body_text(msg))
            try:
                date = email.utils.parsedate_to_datetime(str(msg["date"])) if msg["date"] else None
            except (TypeError, ValueError, IndexError):
                date = None
            mails.append(_Mail(
                where=f"message {n}", message_id=_first_id(msg["message-id"]),
                in_reply_to=_answered_id(msg),
                sender=email.utils.parseaddr(str(msg["from"] or ""))[1].lower(),
                subject=str(msg["subject"]) if msg["subject"] else None,
                date=date, own=own, quoted=quoted))
    finally:
        box.close()
    return mails


def read_mbox(path: Path, *, sender: str | None = None,
              max_context_chars: int = 20_000) -> tuple[int, Iterator[Record]]:
    """A user's Sent folder as history: (message count, records).

    A message with an In-Reply-To header (or a "Re:" subject) is a ``sent_reply``;
    its context is the answered message's own text when that message is in the same
    file, else the text the user quoted. Others are ``sent_email``. With ``sender``,
    only messages from that address are ingested (the rest only serve as context).
    Contexts are clipped to ``max_context_chars``; an over-long own text is an error.
    """
    mails = _parse(path)
    by_id = {m.message_id: m for m in mails if m.message_id}

    def records() -> Iterator[Record]:
        for m in mails:
            if sender and m.sender != sender.lower():
                yield Record(m.where, skipped=f"from {m.sender or 'unknown'}, not {sender}")
                continue
            if not m.own:
                yield Record(m.where, skipped="no text of the sender's own (only quotes)")
                continue
            answered = by_id.get(m.in_reply_to) if m.in_reply_to else None
            is_reply = bool(m.in_reply_to) or (m.subject or "").lower().startswith("re:")
            context = (answered.own if answered and answered.own else m.quoted) or None
            context = context[:max_context_chars] if context else None
            obj = {"id": message_item_id(m.message_id, m.where + m.own),
                   "kind": "sent_reply" if is_reply and context else "sent_email",
                   "text": m.own, "context": context, "subject": m.subject,
                   "timestamp": m.date}
            try:
                yield Record(m.where, item=HistoryItemIn.model_validate(obj))
            except ValidationError as exc:
                yield Record(m.where, error=describe(exc))

    return len(mails), records()
