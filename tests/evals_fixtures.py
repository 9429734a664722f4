"""Small eval fixtures written by the tests themselves (no test reads the public data sets),
plus a fake use case and a fake target for exercising the harness without a model."""

from __future__ import annotations

import json
import random
from pathlib import Path

from evals.loaders import Example
from evals.targets import Target
from evals.variants import Variant
from gateway.schemas.common import CheckResult, Suggestion
from gateway.schemas.smart_replies import SmartReplyRequest, SmartReplyResponse
from gateway.schemas.subject_lines import SubjectLineRequest, SubjectLineResponse
from gateway.usecases.policy import DEFAULT_POLICY

REPLY_PAIRS = [
    ("Can we move our meeting to Friday at 3pm?", "Friday at 3pm works for me."),
    ("Did you get the report I sent?", "Yes, got it, thanks!"),
    ("Want to grab lunch tomorrow?", "Sure, lunch tomorrow sounds great."),
    ("Are you coming to the party tonight?", "I can't make it tonight, sorry."),
    ("Thanks for your help yesterday!", "Happy to help anytime."),
    ("Could you review my pull request?", "Sure, I will review it today."),
]


def write_tsv(path: Path, pairs=REPLY_PAIRS) -> Path:
    path.write_text("".join(f"{m}\t{r}\n" for m, r in pairs))
    return path


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


_WORDS = ("pipeline", "storage", "invoice", "tariff", "meeting", "budget", "desk", "trader",
          "power", "credit", "curve", "volume", "schedule", "legal", "deal", "price", "swap",
          "option", "hedge", "report", "plant", "transport", "index", "margin", "risk", "basis",
          "capacity", "nomination", "outage", "settlement", "forward", "strip", "spread")


def aeslc_row(i: int, user: str, folder: str = "sent", **kw) -> dict:
    body = " ".join(random.Random(i).sample(_WORDS, 8))  # distinct words per email
    row = {"id": f"{user}_{folder}_{i}", "user": user, "folder": folder,
           "body": f"Please review the gas contract {i}: {body}.",
           "subject": f"Gas contract {i}"}
    row.update(kw)
    return row


def write_aeslc(tmp: Path, *, authors=("alice-a", "bob-b"), history_per_author=(10, 9)) -> Path:
    """train.jsonl: alice has 10 sent emails, bob 9 (below the minimum), plus inbox rows;
    dev.jsonl: two sent emails by alice, one by bob, one inbox email."""
    d = tmp / "aeslc"
    d.mkdir()
    train = []
    for author, n in zip(authors, history_per_author):
        train += [aeslc_row(i, author) for i in range(n)]
        train.append(aeslc_row(99, author, "inbox"))
    write_jsonl(d / "train.jsonl", train)
    dev = [aeslc_row(100, "alice-a", annotations=["contract review", "gas contract", "review"]),
           aeslc_row(101, "alice-a", annotations=["a", "b", "c"]),
           aeslc_row(102, "bob-b", annotations=["x", "y", "z"]),
           aeslc_row(103, "alice-a", "inbox", annotations=["i", "j", "k"])]
    return write_jsonl(d / "dev.jsonl", dev)


def _suggestion(text: str, source: str, *, flagged: bool = False) -> Suggestion:
    return Suggestion(text=text, source=source, score=0.5, checks=[
        CheckResult(name="pii", passed=not flagged, action="flag" if flagged else None)])


async def fake_suggest_replies(*, services, tenant_id, request, request_id,
                               policy=DEFAULT_POLICY):
    """Echoes the message's first words (so ROUGE differs by example) or canned rules."""
    if not policy.use_model:
        texts, source, reason = ["Thanks!", "Sounds good.", "Sorry, I can't."], "rules", "llm_error"
    else:
        texts = [" ".join(request.message.body.split()[:4]), "Sounds good to me.", "No, thanks."]
        source, reason = "llm", None
    return SmartReplyResponse(
        request_id=request_id, triggered=True, personalized=policy.personalize and policy.use_model,
        model="fake/test", prompt_version="smart_reply_v1", fallback_reason=reason, latency_ms=1,
        suggestions=[_suggestion(t, source, flagged=i == 2) for i, t in enumerate(texts)])


async def fake_suggest_subject_lines(*, services, tenant_id, request, request_id,
                                     policy=DEFAULT_POLICY):
    body = request.campaign.body.split()
    texts = [" ".join(body[:3]), "Gas contract review"] if policy.use_model else ["Update"]
    return SubjectLineResponse(
        request_id=request_id, personalized=policy.personalize, model="fake/test",
        prompt_version="subject_line_v2", fallback_reason=None, latency_ms=1,
        subject_lines=[_suggestion(t, "llm" if policy.use_model else "rules") for t in texts])


def fake_usecase(task: str):
    if task == "smart-replies":
        return fake_suggest_replies, SmartReplyRequest
    return fake_suggest_subject_lines, SubjectLineRequest


class FakeTarget(Target):
    """Answers from the fake use case; records every call; can die at call number N."""

    def __init__(self, *, die_at: int | None = None, fail_ids: set[str] = frozenset()):
        self.calls: list[tuple[str, str]] = []
        self.history_calls: list[str] = []
        self.die_at = die_at
        self.fail_ids = set(fail_ids)

    async def start(self) -> None:
        return None

    async def add_history(self, user_id: str, items: list[dict]) -> None:
        self.history_calls.append(user_id)

    async def generate(self, task: str, example: Example, variant: Variant) -> dict:
        self.calls.append((variant.name, example.id))
        if self.die_at is not None and len(self.calls) >= self.die_at:
            import os

            os._exit(3)  # a hard crash: no cleanup, no flush, like a kill -9
        if example.id in self.fail_ids:
            raise RuntimeError("boom")
        fn, model = fake_usecase(task)
        resp = await fn(services=None, tenant_id=1, request=model.model_validate(example.request),
                        request_id="r", policy=variant.policy)
        return resp.model_dump(mode="json", by_alias=True)

    def describe(self) -> dict:
        return {"runner": "fake", "models": ["fake/test"]}
