"""Baselines that need no gateway: what a suggestion must beat to be worth serving.

``constant``: every request gets the same ``k`` replies, the most frequent short
replies (at most ``MAX_WORDS`` words, after lower-casing and collapsing whitespace)
among the references of the eval file itself — all of its examples, not only the
sampled ones. It is computed from the data being scored, so it is an optimistic
baseline (it has seen the answers' distribution): a pipeline that does not beat it
is no better than a canned list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from evals.loaders import Example
from evals.targets import Target
from evals.variants import Variant

MAX_WORDS = 6
TOP_K = 3


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def top_replies(texts: Iterable[str], *, k: int = TOP_K, max_words: int = MAX_WORDS) -> list[str]:
    """The ``k`` most frequent normalized texts of at most ``max_words`` words; ties go to
    the alphabetically first, so the list is the same on every run."""
    counts = Counter(n for t in texts if (n := normalize(t)) and len(n.split()) <= max_words)
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


class ConstantTarget(Target):
    """Answers every request with the eval file's top-k short references."""

    def __init__(self, examples: list[Example], *, k: int = TOP_K) -> None:
        self.replies = top_replies((r for e in examples for r in e.references), k=k)

    async def start(self) -> None:
        return None

    async def add_history(self, user_id: str, items: list[dict]) -> None:
        return None  # a constant reads no history

    async def generate(self, task: str, example: Example, variant: Variant) -> dict:
        n = int(example.request.get("n") or TOP_K)
        return {"triggered": True, "personalized": False, "model": None,
                "prompt_version": None, "fallback_reason": None, "latency_ms": 0,
                "suggestions": [{"text": t, "source": "constant", "score": 1.0, "checks": []}
                                for t in self.replies[:n]]}

    def describe(self) -> dict:
        return {"runner": "constant", "models": [], "replies": list(self.replies),
                "rule": f"top {TOP_K} normalized references of <= {MAX_WORDS} words "
                        "of the whole eval file"}


BASELINES = {"constant": ConstantTarget}


def baseline_target(name: str, examples: list[Example]) -> Target:
    return BASELINES[name](examples)
