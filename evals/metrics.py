"""Metric functions: pure, small, each checked against hand-computed values in tests.

Scales: ROUGE, weighted ROUGE, cosine, distinct-n and rates are in [0, 1];
BLEU is sacrebleu's 0-100. A function returns ``None`` when the metric is
undefined for its input (e.g. self-similarity of a single suggestion), and
aggregation skips those rather than counting them as zero.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

MRS_WEIGHTS = (1 / 6, 1 / 3, 1 / 2)  # R1, R2, RL: the MRS / STAR "weighted ROUGE"
_WORD = re.compile(r"\w+", re.UNICODE)


@functools.lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 with Porter stemming (rouge-score, as in the AESLC/PEGASUS papers)."""
    s = _scorer().score(reference, prediction)
    return {"rouge1": s["rouge1"].fmeasure, "rouge2": s["rouge2"].fmeasure,
            "rougeL": s["rougeL"].fmeasure}


def weighted_rouge(prediction: str, references: Sequence[str]) -> float:
    """R1/6 + R2/3 + RL/2 against the best-matching reference."""
    best = 0.0
    for ref in references:
        r = rouge(prediction, ref)
        w = (MRS_WEIGHTS[0] * r["rouge1"] + MRS_WEIGHTS[1] * r["rouge2"]
             + MRS_WEIGHTS[2] * r["rougeL"])
        best = max(best, w)
    return best


def best_of_n_weighted_rouge(predictions: Sequence[str], references: Sequence[str]) -> float:
    """MRS: the best suggestion's weighted ROUGE (0 when nothing was suggested).

    Best-of-n because a user picks one of the n suggestions shown."""
    return max((weighted_rouge(p, references) for p in predictions), default=0.0)


def sentence_bleu(prediction: str, references: Sequence[str]) -> float:
    """sacrebleu sentence BLEU (exp smoothing), all references at once; 0-100."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction, list(references)).score)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(texts: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Every word n-gram of every text (none spans two texts)."""
    return [tuple(w[i:i + n]) for t in texts for w in [words(t)] for i in range(len(w) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Unique n-grams / all n-grams over the texts together (Li et al. 2016).

    Over one request's suggestions it is the per-request figure; over every suggestion
    of every request of a run (``corpus_distinct``) it is the corpus-level one, which
    drops when the same lines come back for many messages."""
    grams = ngrams(texts, n)
    return len(set(grams)) / len(grams) if grams else None


def corpus_distinct(requests: Sequence[Sequence[str]], n: int) -> float | None:
    """``distinct_n`` over all suggestions of all requests together."""
    return distinct_n([t for texts in requests for t in texts], n)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between rows of ``a`` and rows of ``b``."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def self_similarity(vectors: np.ndarray) -> float | None:
    """Mean pairwise cosine between suggestions; lower means more varied. None below 2."""
    k = len(vectors)
    if k < 2:
        return None
    sims = cosine_matrix(vectors, vectors)
    return float((sims.sum() - np.trace(sims)) / (k * (k - 1)))


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """p50/p95/p99 (linear interpolation, numpy's default); empty when no values."""
    if len(values) == 0:
        return {}
    got = np.percentile(np.asarray(values, dtype=float), list(qs))
    return {f"p{int(q)}": float(v) for q, v in zip(qs, got)}


def check_counts(checks_per_suggestion: Sequence[Sequence[dict]]) -> dict[str, dict[str, int]]:
    """Per guardrail check: how many suggestions it blocked, repaired or flagged.

    Input is each suggestion's ``checks`` list as the API returns it."""
    out: dict[str, dict[str, int]] = {}
    for checks in checks_per_suggestion:
        for c in checks:
            counts = out.setdefault(c["name"], {"block": 0, "repair": 0, "flag": 0, "seen": 0})
            counts["seen"] += 1
            if not c.get("passed", True):
                action = c.get("action") or "flag"
                counts[action] = counts.get(action, 0) + 1
    return out


def mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None
