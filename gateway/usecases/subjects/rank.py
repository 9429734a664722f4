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
    """Fitted on AESLC candidate pools (benchmarks/, listwise: maximise the expected
    ROUGE-1 of the served line; 2-fold CV) and rounded. ``preference`` has no signal
    in AESLC (no opened/ignored data); it is set to dominate when such history exists.
    Fitted on 150 dev emails; a re-fit on train emails only (issue #18), judged by
    author-grouped CV on train, did not beat them: docs/subject-lines.md."""

    relevance: float = 1.0
    preference: float = 2.0
    authorship: float = 0.7
    style: float = 0.1
    brevity: float = 0.5
    prior_llm: float = 0.05
    prior_history: float = 0.0
    prior_body: float = 0.0
    first_bonus: float = 0.15  # a source's own first choice (the model's, the top phrase)

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float32)


# Column order of the feature matrix; each name is also a ``Weights`` field.
FEATURES = ("relevance", "preference", "authorship", "style", "brevity", "prior_llm",
            "prior_history", "prior_body", "first_bonus")
DEFAULT_WEIGHTS = Weights()
Embed = Callable[[Sequence[str]], np.ndarray]


def _no_vectors(texts: Sequence[str]) -> np.ndarray:
    return np.zeros((len(texts), 1), dtype=np.float32)


def _sims(vecs: np.ndarray, past: list[PastSubject], past_vecs: np.ndarray) -> np.ndarray:
    if not past:
        return np.zeros((len(vecs), 0), dtype=np.float32)
    return vecs @ past_vecs.T


def feature_matrix(candidates: list[Candidate], *, embed: Embed | None, body: str,
                   signals: Signals, profile: style.StyleProfile,
                   body_vec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features [k, len(FEATURES)], candidate unit vectors [k, dim]). With no
    ``embed`` (no time left) the similarity features are 0 and style and priors rank.
    ``body_vec``: the caller's vector of ``body`` (retrieval's query), not embedded again."""
    if embed is None:
        embed, body_vec = _no_vectors, None
    groups = [signals.opened, signals.ignored, signals.sent]
    head = [body] if body_vec is None else []
    texts = head + [c.text for c in candidates] + [p.subject for g in groups for p in g]
    vecs = embed(texts)
    if body_vec is None:
        body_vec = vecs[0]
    cand = vecs[len(head):len(head) + len(candidates)]
    rest = vecs[len(head) + len(candidates):]
    split = np.cumsum([len(g) for g in groups])[:-1]
    opened_v, ignored_v, sent_v = np.split(rest, split) if len(rest) else (rest, rest, rest)

    feats = np.zeros((len(candidates), len(FEATURES)), dtype=np.float32)
    feats[:, 0] = cand @ body_vec
    so = _sims(cand, signals.opened, opened_v)
    si = _sims(cand, signals.ignored, ignored_v)
    if so.shape[1]:
        feats[:, 1] += so.max(axis=1)
    if si.shape[1]:
        feats[:, 1] -= si.max(axis=1)
    if signals.sent:
        support = np.array([max(p.similarity, 0.0) for p in signals.sent], dtype=np.float32)
        feats[:, 2] = (_sims(cand, signals.sent, sent_v) * support[None, :]).max(axis=1)
    seen_first: set[str] = set()
    for i, c in enumerate(candidates):
        feats[i, 3] = style.fit(c.text, profile)
        feats[i, 4] = max(0.0, 1.0 - len(c.text.split()) / 10.0)
        feats[i, 5 + ("llm", "history", "body").index(c.origin)] = 1.0
        if c.origin not in seen_first:
            seen_first.add(c.origin)
            feats[i, 8] = 1.0
    return feats, cand


def score(candidates: list[Candidate], *, embed: Embed | None, body: str, signals: Signals,
          profile: style.StyleProfile, weights: Weights = DEFAULT_WEIGHTS,
          body_vec: np.ndarray | None = None) -> np.ndarray:
    """Set ``candidate.score`` (0..1) on each candidate; returns their unit vectors."""
    if not candidates:
        return np.zeros((0, 0), dtype=np.float32)
    feats, vecs = feature_matrix(candidates, embed=embed, body=body, signals=signals,
                                 profile=profile, body_vec=body_vec)
    raw = feats @ weights.vector()
    for c, r in zip(candidates, raw):
        c.raw = float(r)
        c.score = round(1.0 / (1.0 + math.exp(-2.0 * (c.raw - 1.0))), 4)
    return vecs


def pick(candidates: list[Candidate], vecs: np.ndarray, n: int,
         max_similarity: float = 0.9) -> list[Candidate]:
    """The best ``n`` candidates, skipping any too close to one already picked; if
    that leaves fewer than ``n``, the next best with different wording fill up."""
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].raw)
    chosen: list[int] = []
    for strict in (True, False):
        for i in order:
            if len(chosen) >= n:
                break
            text = candidates[i].text.lower()
            if i in chosen or any(candidates[j].text.lower() == text for j in chosen):
                continue
            if strict and vecs.size and any(float(vecs[i] @ vecs[j]) > max_similarity
                                            for j in chosen):
                continue
            chosen.append(i)
    chosen.sort(key=lambda i: -candidates[i].raw)
    return [candidates[i] for i in chosen]
