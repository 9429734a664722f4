"""One scorer for every candidate, whatever its source.

Predicted appeal to this recipient is a weighted sum of explainable features,
all cosine similarities in the embedder's space:

- relevance:  how close the candidate is to the campaign body;
- preference: closer to subjects this recipient opened than to ones they ignored;
- authorship: close to the subjects the author gave their most similar past emails
  (weighted by how similar those emails are to this one);
- style:      fits the recipient's style profile (length, casing, questions...);
- a small prior per source.

Weights are tuned on AESLC (benchmarks/aeslc_subjects.py); ``pick`` then keeps
the best ``n`` that are distinct from each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gateway.usecases.subjects import style
from gateway.usecases.subjects.candidates import Candidate, PastSubject, Signals


@dataclass(frozen=True)
class Weights:
    relevance: float = 1.0
    preference: float = 2.0
    authorship: float = 1.2
    style: float = 0.3
    prior_llm: float = 0.05
    prior_history: float = 0.0
    prior_body: float = 0.0
    first_bonus: float = 0.05  # a source's own first choice (the model's, the top phrase)


DEFAULT_WEIGHTS = Weights()
Embed = Callable[[Sequence[str]], np.ndarray]


def _sims(vecs: np.ndarray, past: list[PastSubject], past_vecs: np.ndarray) -> np.ndarray:
    if not past:
        return np.zeros((len(vecs), 0), dtype=np.float32)
    return vecs @ past_vecs.T


def score(candidates: list[Candidate], *, embed: Embed, body: str, signals: Signals,
          profile: style.StyleProfile, weights: Weights = DEFAULT_WEIGHTS) -> np.ndarray:
    """Set ``candidate.score`` (0..1) on each candidate; returns their unit vectors."""
    if not candidates:
        return np.zeros((0, 0), dtype=np.float32)
    groups = [signals.opened, signals.ignored, signals.sent]
    texts = [body] + [c.text for c in candidates] + [p.subject for g in groups for p in g]
    vecs = embed(texts)
    body_vec, cand = vecs[0], vecs[1:1 + len(candidates)]
    rest = vecs[1 + len(candidates):]
    split = np.cumsum([len(g) for g in groups])[:-1]
    opened_v, ignored_v, sent_v = np.split(rest, split) if len(rest) else (rest, rest, rest)

    relevance = cand @ body_vec
    so = _sims(cand, signals.opened, opened_v)
    si = _sims(cand, signals.ignored, ignored_v)
    pref = np.zeros(len(candidates), dtype=np.float32)
    if so.shape[1]:
        pref += so.max(axis=1)
    if si.shape[1]:
        pref -= si.max(axis=1)
    auth = np.zeros(len(candidates), dtype=np.float32)
    if signals.sent:
        support = np.array([max(p.similarity, 0.0) for p in signals.sent], dtype=np.float32)
        auth = (_sims(cand, signals.sent, sent_v) * support[None, :]).max(axis=1)
    seen_first: set[str] = set()
    for i, c in enumerate(candidates):
        prior = {"llm": weights.prior_llm, "history": weights.prior_history,
                 "body": weights.prior_body}[c.origin]
        if c.origin not in seen_first:
            seen_first.add(c.origin)
            prior += weights.first_bonus
        raw = (weights.relevance * float(relevance[i]) + weights.preference * float(pref[i])
               + weights.authorship * float(auth[i])
               + weights.style * style.fit(c.text, profile) + prior)
        c.score = round(1.0 / (1.0 + math.exp(-3.0 * (raw - 0.5))), 4)
    return cand


def pick(candidates: list[Candidate], vecs: np.ndarray, n: int,
         max_similarity: float = 0.9) -> list[Candidate]:
    """The best ``n`` candidates, skipping any too close to one already picked."""
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
    chosen: list[int] = []
    for i in order:
        text = candidates[i].text.lower()
        if any(candidates[j].text.lower() == text for j in chosen):
            continue
        if vecs.size and any(float(vecs[i] @ vecs[j]) > max_similarity for j in chosen):
            continue
        chosen.append(i)
        if len(chosen) >= n:
            break
    return [candidates[i] for i in chosen]
