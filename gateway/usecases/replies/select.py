"""Rank candidates and pick ``n`` that differ in meaning.

Score (0..1, higher is better), the same formula for model and rule candidates:

    score = 0.40 * prior + 0.35 * relevance + 0.25 * voice - 0.10 * flags

- ``prior``: how much the source is trusted (model: ``smart_reply_model_prior``,
  falling with sampling temperature; the user's own past reply: 0.5 + similarity/2 of its
  original message to this one; canned rule: 0.5, falling with list position).
- ``relevance``: cosine between the reply and the incoming message in the
  sentence-embedding space (MiniLM was trained on message/response pairs, so a
  fitting reply scores high), rescaled from [-0.1, 0.6] to [0, 1].
- ``voice``: the best cosine to the user's own past replies (0.5 without history):
  prefers what this user would say.
- ``flags``: guardrail verdicts that flagged but did not block.

Selection is greedy by score, with two rules that make the set distinct in
meaning, as Gmail's Smart Reply does: at most one reply per intent
(``reply_intent``: positive / negative / question / thanks / ack / other), and no
reply closer than ``max_similarity`` (cosine) to one already chosen. A first pass
over ``eligible`` can give the model's candidates slots of their own
(``GenerationPolicy.model_slots``: none by default); the rest compete on score with
the rules. When
the candidates hold fewer than ``n`` intents, a last pass drops the one-per-intent
rule (never the near-duplicate one), so a request is still served ``n`` replies.

Without vectors (no time left to embed the candidates) relevance and voice are
neutral (prior and flags rank) and only exact duplicates count as near.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gateway.schemas.common import CheckResult

W_PRIOR, W_RELEVANCE, W_VOICE, W_FLAG = 0.40, 0.35, 0.25, 0.10


@dataclass
class Candidate:
    text: str  # as served (styled)
    bare: str  # the reply itself, no greeting/sign-off (for intent and embeddings)
    source: str  # "llm" or "rules"
    intent: str
    prior: float
    context_id: str | None = None
    checks: list[CheckResult] = field(default_factory=list)
    flags: int = 0
    passed: bool = False  # went through the guardrails (``replies/checks.py``)
    score: float = 0.0
    components: dict = field(default_factory=dict)  # the score's terms (explanations)


def _rescale(x: float, lo: float, hi: float) -> float:
    return float(min(max((x - lo) / (hi - lo), 0.0), 1.0))


def score_all(cands: Sequence[Candidate], *, vecs: np.ndarray | None,
              message_vec: np.ndarray | None, voice_vecs: np.ndarray | None) -> None:
    """Fill ``score`` in place (``vecs``: one unit vector per candidate's bare text, or
    None: relevance and voice neutral)."""
    if vecs is None or message_vec is None:
        vecs, voice_vecs = None, None
        rel = np.full(len(cands), 0.25)  # rescales to 0.5
    else:
        rel = vecs @ message_vec if len(cands) else np.zeros(0)
    voice = (vecs @ voice_vecs.T).max(axis=1) if voice_vecs is not None and len(voice_vecs) \
        else np.full(len(cands), 0.5)
    for i, c in enumerate(cands):
        v = _rescale(float(voice[i]), 0.0, 0.8) if voice_vecs is not None and len(voice_vecs) \
            else 0.5
        relevance = _rescale(float(rel[i]), -0.1, 0.6)
        c.components = {"prior": c.prior, "relevance": round(relevance, 4),
                        "voice": round(v, 4), "flags": c.flags}
        c.score = round(W_PRIOR * c.prior + W_RELEVANCE * relevance
                        + W_VOICE * v - W_FLAG * c.flags, 4)


def pick_distinct(cands: Sequence[Candidate], vecs: np.ndarray | None, n: int, *,
                  eligible: Sequence[int] | None = None, chosen: Sequence[int] = (),
                  max_similarity: float = 0.85, one_per_intent: bool = True) -> list[int]:
    """Indices of up to ``n`` candidates (``chosen`` included, kept first), greedy by
    score among ``eligible``: one per intent (unless ``one_per_intent`` is off), no
    near-duplicates (with ``vecs``; without, no equal texts)."""
    picked = list(chosen)
    intents = {cands[j].intent for j in picked}
    seen = {_key(cands[j].bare) for j in picked}
    pool = range(len(cands)) if eligible is None else eligible
    for i in sorted(pool, key=lambda i: -cands[i].score):
        if len(picked) >= n:
            break
        c = cands[i]
        if i in picked or _key(c.bare) in seen or (one_per_intent and c.intent in intents):
            continue
        if vecs is not None and any(float(vecs[i] @ vecs[j]) >= max_similarity
                                    for j in picked):
            continue
        picked.append(i)
        intents.add(c.intent)
        seen.add(_key(c.bare))
    return picked


def _key(text: str) -> str:
    return " ".join(text.lower().strip(" .!?").split())


# ``rank="likelihood"``: the model's mean log-probability per token of a candidate,
# rescaled from [LL_LOW, LL_HIGH] to [0, 1], weighs ``W_LIKELIHOOD`` of the score (the
# heuristic score the rest). A candidate the model had no time to score counts as the
# least likely of those it scored. Tuned on reddit-replies rows 1000-1149
# (docs/smart-replies.md).
W_LIKELIHOOD, LL_LOW, LL_HIGH = 0.5, -3.0, -0.5


def apply_likelihood(cands: Sequence[Candidate], likelihoods: dict[str, float]) -> None:
    """Mix the model's likelihood of each candidate (by its bare text) into ``score``."""
    if not likelihoods:
        return
    floor = min(likelihoods.values())
    for c in cands:
        ll = likelihoods.get(c.bare, floor)
        lik = _rescale(ll, LL_LOW, LL_HIGH)
        c.components["likelihood"] = round(lik, 4)
        c.score = round((1 - W_LIKELIHOOD) * c.score + W_LIKELIHOOD * lik, 4)
