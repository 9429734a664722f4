"""Evaluators: score one served response against its references, then aggregate.

Per example (stored in results.jsonl so a resumed run never re-scores):
quality (top-1 suggestion unless noted), diversity, grounding, fallback and
latency. Aggregation averages per-example values (skipping undefined ones) and
adds the rates that only make sense over a run (per-check guardrail rates,
fallback rate by reason, latency percentiles). Like sentence-transformers
evaluators, each declares the ``primary_metric`` a comparison leads with.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from evals import metrics as M
from evals.loaders import Example

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]
Grounding = Callable[[str, Sequence[str], str], bool]  # (text, sources, task) -> unsupported?
GROUNDING_CHECKS = ("grounding", "name_grounding")
GUARD_TASK = {"smart-replies": "smart_reply", "subject-lines": "subject_line"}

# Per-example metrics and whether higher is better (for the report's best/worst and arrows).
HIGHER_IS_BETTER = {
    "mrs": True, "rouge1": True, "rouge2": True, "rougeL": True, "bleu": True,
    "rouge1_alt": True, "rouge2_alt": True, "rougeL_alt": True,
    "embed_sim": True, "distinct1_per_request": True, "distinct2_per_request": True,
    "distinct1_corpus": True, "distinct2_corpus": True, "self_sim": False,
    "unsupported_rate": False, "fallback": False, "triggered": True, "llm_share": True,
    "personalized": True, "error": False, "latency_ms": False,
    "error_rate": False, "fallback_rate": False, "trigger_rate": True, "model_fallback": False,
    "model_fallback_rate": False,
    "attributed": True, "attributed_unmasked": True, "p_writer": True,  # persona eval style
}


# Per-example indicator -> its run-level name (a mean of 0/1 values is a rate).
RENAME = {"error": "error_rate", "fallback": "fallback_rate", "triggered": "trigger_rate",
          "model_fallback": "model_fallback_rate"}
# Fallback reasons that mean the model's answer was not served (vs. personalization ones).
MODEL_FAILURES = ("timeout", "llm_error", "guardrail")
NO_CI = {"latency_ms", "n_suggestions"}  # summarised by percentiles / not a quality signal
# Bumped whenever ``Evaluator.score`` changes what it computes: stored records scored by an
# older version are re-scored from their saved responses (no model call) on the next run.
# 3: distinct1/2 renamed distinct1/2_per_request (the corpus figures are run-level).
# 4: a smart reply's unsupported_rate counts its sender and its user's own history as
#    sources (the gateway's guardrails do).
SCORE_VERSION = 4
# Run-level only, from every suggestion of every request: n -> metric name.
CORPUS_DISTINCT = {1: "distinct1_corpus", 2: "distinct2_corpus"}


def grounding_checker() -> Grounding | None:
    """Does a text state an entity (number, date, name, link, claim) its sources lack?

    The guardrails grounding checks as a predicate; None when guardrails lacks them."""
    try:
        from guardrails import check
    except ImportError as exc:
        log.warning("guardrails.check unavailable (%s): unsupported_rate not measured", exc)
        return None

    def unsupported(text: str, sources: Sequence[str], task: str) -> bool:
        result = check(text, sources=list(sources), task=GUARD_TASK[task])
        return any(v.name in GROUNDING_CHECKS and not v.passed for v in result.verdicts)

    return unsupported


def request_sources(task: str, request: dict) -> list[str]:
    """The trusted text a suggestion may draw its facts from (names, numbers, dates)."""
    if task == "smart-replies":
        msg = request.get("message", {})
        out = [msg.get("from", ""), msg.get("subject", ""), msg.get("body", "")]  # the sender
        # is trusted for a greeting ("Hi Bob,"), as in the gateway's guardrails
        out += [t.get("body", "") for t in request.get("thread", [])]
    else:
        camp = request.get("campaign", {})
        out = [camp.get("body", ""), camp.get("brand") or ""]
    return [s for s in out if s]


class Evaluator:
    """Scores responses of one task."""

    def __init__(self, task: str, *, embed: Embed | None = None,
                 grounding: Grounding | None = None, histories: dict | None = None):
        """``histories``: the dataset's history items per user. A smart reply may draw
        on its user's own history (their name in the sign-off, people they wrote about),
        as the gateway's guardrails let it; a subject line only on its campaign."""
        self.task = task
        self.primary_metric = "mrs" if task == "smart-replies" else "rouge1"
        self.embed = embed
        self.grounding = grounding
        self.histories = histories or {}

    def score(self, example: Example, response: dict | None, wall_ms: float) -> dict:
        """Per-example metrics. A failed request (``response`` None) scores 0 on quality:
        the user saw nothing."""
        refs = example.references
        sugg = (response or {}).get("suggestions") or []
        texts = [s["text"] for s in sugg if s.get("text", "").strip()]
        out: dict[str, float | None] = {"latency_ms": wall_ms,
                                        "error": 0.0 if response is not None else 1.0,
                                        "n_suggestions": float(len(texts))}
        top = texts[0] if texts else ""
        r = M.rouge(top, refs[0]) if top else {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
        out.update(r)
        out.update(self._alternative_rouge(top, refs[1:]))
        out["mrs"] = M.best_of_n_weighted_rouge(texts, refs)
        out["bleu"] = M.sentence_bleu(top, refs) if top else 0.0
        out["distinct1_per_request"] = M.distinct_n(texts, 1)
        out["distinct2_per_request"] = M.distinct_n(texts, 2)
        out["embed_sim"], out["self_sim"] = self._embedding_scores(texts, refs)
        out["unsupported_rate"] = self._unsupported(example, texts)
        if response is not None:
            reason = response.get("fallback_reason")
            out["fallback"] = 1.0 if reason else 0.0
            out["model_fallback"] = 1.0 if reason in MODEL_FAILURES else 0.0
            out["personalized"] = 1.0 if response.get("personalized") else 0.0
            out["llm_share"] = (sum(s.get("source") == "llm" for s in sugg) / len(sugg)
                                if sugg else None)
            if self.task == "smart-replies":
                out["triggered"] = 1.0 if response.get("triggered", True) else 0.0
        return out

    @staticmethod
    def _alternative_rouge(top: str, alts: list[str]) -> dict[str, float]:
        """ROUGE-1/2/L of the top suggestion, each the max over the alternative references
        (AESLC: the three annotators' subjects); absent with a single reference."""
        if not alts:
            return {}
        if not top:
            return {"rouge1_alt": 0.0, "rouge2_alt": 0.0, "rougeL_alt": 0.0}
        scores = [M.rouge(top, ref) for ref in alts]
        return {f"{k}_alt": max(sc[k] for sc in scores) for k in ("rouge1", "rouge2", "rougeL")}

    def _embedding_scores(self, texts: list[str], refs: list[str]):
        if self.embed is None:
            return None, None
        if not texts:
            return 0.0, None
        vecs = self.embed(texts + refs)
        sugg, ref = vecs[:len(texts)], vecs[len(texts):]
        top = float(M.cosine_matrix(sugg[:1], ref).max())
        return top, M.self_similarity(sugg)

    def _unsupported(self, example: Example, texts: list[str]) -> float | None:
        if self.grounding is None or not texts:
            return None
        sources = request_sources(self.task, example.request)
        if self.task == "smart-replies" and example.user in self.histories:
            sources += [t for item in self.histories[example.user]
                        for t in (item.get("text"), item.get("context")) if t]
        return sum(self.grounding(t, sources, self.task) for t in texts) / len(texts)

    def aggregate(self, records: list[dict]) -> dict[str, float | None]:
        """Run-level metrics for one variant from its result records."""
        agg: dict[str, float | None] = {"examples": float(len(records))}
        keys = sorted({k for r in records for k in r["scores"]})
        for k in keys:
            if k == "latency_ms":
                continue
            agg[k] = M.mean([r["scores"].get(k) for r in records])
        for old, new in RENAME.items():
            if old in agg:
                agg[new] = agg.pop(old)
        lat = [r["scores"]["latency_ms"] for r in records if r["scores"].get("latency_ms") is not None]
        for name, v in M.percentiles(lat).items():
            agg[f"latency_{name}_ms"] = v
        served = [served_texts(r) for r in records]
        for n, name in CORPUS_DISTINCT.items():
            agg[name] = M.corpus_distinct(served, n)
        answered = [r for r in records if r.get("response") is not None]
        reasons = Counter(r["response"].get("fallback_reason") for r in answered)
        for reason, n in sorted((k, v) for k, v in reasons.items() if k):
            agg[f"fallback_rate.{reason}"] = n / len(answered)
        checks = [s.get("checks", []) for r in answered
                  for s in r["response"].get("suggestions") or []]
        for name, counts in sorted(M.check_counts(checks).items()):
            for action in ("block", "repair", "flag"):
                agg[f"guardrail.{name}.{action}_rate"] = counts.get(action, 0) / len(checks)
        return agg


def served_texts(record: dict) -> list[str]:
    """The non-blank suggestion texts a result record served (none for a failed request)."""
    sugg = (record.get("response") or {}).get("suggestions") or []
    return [s["text"] for s in sugg if s.get("text", "").strip()]


def per_example(records: list[dict]) -> dict[str, dict[str, float]]:
    """Run-level metric name -> (example id -> value), for CIs and paired comparisons.

    Undefined values are left out; latency is summarised by percentiles instead."""
    out: dict[str, dict[str, float]] = {}
    for r in records:
        for k, v in r["scores"].items():
            if v is not None and k not in NO_CI:
                out.setdefault(RENAME.get(k, k), {})[r["id"]] = float(v)
    return out
