"""``GenerationPolicy``: what a generation use case may do for one request.

HTTP requests run under ``DEFAULT_POLICY`` (the model's and the rules' candidates
ranked together, personalized when the user's preferences allow it) unless an experiment variant or the kill
switch gives the request another (``gateway.usecases.experiments.resolve``). Evals
and benchmarks build other policies directly to compare pipelines on the same
examples: rules only, model only, personalization off. A policy never turns personalization *on* for a
user who switched it off; ``personalize=False`` only stops the use case reading
their history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.usecases.subjects.rank import Weights


RANKS = ("heuristic", "likelihood")


@dataclass(frozen=True)
class GenerationPolicy:
    # Ask the model for candidates (False: rules only, no model call, no prompt).
    use_model: bool = True
    # Rule candidates fill what the model leaves (False: model only; subject lines still
    # answer from rules when the model gave no usable line, so a response has lines).
    fill_with_rules: bool = True
    # Read the user's history and style (False: answer as for a user without history).
    personalize: bool = True
    # Subject-line ranker weights; None is the tuned default (benchmarks tune them).
    subject_weights: Weights | None = None
    # Model chain to call instead of the configured one (each a model of the configured
    # chain); None: the configured chain.
    models: tuple[str, ...] | None = None
    # Smart replies: model samples per request; None: ``smart_reply_samples``.
    samples: int | None = None
    # Deadline for a request that sends no ``deadline_ms`` (it then also lifts the
    # smart-reply model budget, as a client deadline does); None: the task's setting.
    deadline_ms: int | None = None
    # "experiment/variant" when an experiment chose this policy: the explanation of the
    # request names it (GET /v1/requests/{id}); None otherwise.
    variant: str | None = None
    # Smart replies: how candidates are ranked. "heuristic": prior, embedding relevance
    # and voice (``replies/select.py``); "likelihood": also the in-process model's
    # likelihood of each candidate given the prompt (a prefill-only pass per candidate;
    # a hosted model, which cannot score, falls back to the heuristic).
    rank: str = "heuristic"
    # Smart replies: slots the model's candidates take before the rest compete on score
    # with the rules (None: all ``n``, the model first and rules only fill). Zero by
    # default: every candidate competes on one score, the model's at the prior
    # ``smart_reply_model_prior``. On tuning rows the embedded model's replies served
    # first cost MRS against rules (all slots -0.009, one slot -0.004); competing at the
    # fitted prior they cost nothing measurable and kept most of the diversity they add
    # (docs/smart-replies.md).
    model_slots: int | None = 0

    def __post_init__(self) -> None:
        if not (self.use_model or self.fill_with_rules):
            raise ValueError("a policy with use_model=False and fill_with_rules=False has "
                             "nothing to serve; keep at least one of them True")
        if self.rank not in RANKS:
            raise ValueError(f"unknown rank {self.rank!r}; choose from {', '.join(RANKS)}")
        if self.model_slots is not None and self.model_slots < 0:
            raise ValueError("model_slots must be None (all) or at least 0")


DEFAULT_POLICY = GenerationPolicy()
RULES_ONLY = GenerationPolicy(use_model=False)
MODEL_ONLY = GenerationPolicy(fill_with_rules=False)
