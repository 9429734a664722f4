"""Variants: named configurations of a use case compared on the same examples.

A variant is a ``GenerationPolicy`` for the use case (rules only, model only,
history read or not: ``gateway/usecases/policy.py``) and optionally a settings file
(``--config``: another model, another prompt version). Names are what the report
shows: ``full``, or ``full@gpt4o`` when a settings file ``gpt4o.env`` is used.

A *baseline* variant (``constant``) runs no use case at all: ``evals.baselines`` answers
it from the eval data, so it needs neither models nor a gateway, and a settings file
does not change it (it is run once, named without ``@config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.core.errors import ConfigError
from gateway.usecases.policy import DEFAULT_POLICY, MODEL_ONLY, RULES_ONLY, GenerationPolicy

PLAIN = GenerationPolicy(personalize=False)  # the user's history is not read
# name -> the policy the use case runs under.
VARIANTS: dict[str, dict[str, GenerationPolicy]] = {
    "smart-replies": {
        "full": DEFAULT_POLICY,
        "rules": RULES_ONLY,
        "model": MODEL_ONLY,
        "plain": PLAIN,
        # The embedded model scores every candidate (its likelihood given the message).
        "scored": GenerationPolicy(rank="likelihood"),
    },
    "subject-lines": {
        "personalized": DEFAULT_POLICY,
        "plain": PLAIN,
        "rules": RULES_ONLY,
        "rules-plain": GenerationPolicy(use_model=False, personalize=False),
        "model": MODEL_ONLY,
    },
}
ALIASES = {"subject-lines": {"full": "personalized", "non-personalized": "plain",
                             "rules-only": "rules", "model-only": "model"},
           "smart-replies": {"rules-only": "rules", "model-only": "model",
                             "non-personalized": "plain"}}
# Variants answered by ``evals.baselines`` instead of the use case.
BASELINES = {"smart-replies": {"constant"}, "subject-lines": set()}
DEFAULT_VARIANT = {"smart-replies": "full", "subject-lines": "personalized"}
# What a request over HTTP can express: the API has no policy field, and a subject-line
# request without ``user_id`` reads no history. (A smart reply needs its user.)
HTTP_VARIANTS = {"smart-replies": {"full"}, "subject-lines": {"personalized", "plain"}}


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str
    policy: GenerationPolicy = field(default=DEFAULT_POLICY, hash=False, compare=False)
    config: Path | None = None
    baseline: str | None = None  # a name in ``evals.baselines.BASELINES``: no use case runs


def resolve(task: str, names: list[str] | None, configs: list[Path] | None, *,
            http: bool = False) -> list[Variant]:
    """Variants to run, in order (the first is the baseline of every comparison)."""
    table = VARIANTS[task]
    kinds = []
    for raw in names or [DEFAULT_VARIANT[task]]:
        kind = ALIASES[task].get(raw, raw)
        if kind not in table and kind not in BASELINES[task]:
            raise ConfigError(f"unknown variant {raw!r} for {task}; choose from "
                              f"{', '.join([*table, *sorted(BASELINES[task])])}")
        if http and kind not in HTTP_VARIANTS[task] | BASELINES[task]:
            raise ConfigError(f"variant {raw!r} needs the in-process runner (the HTTP API has "
                              "no policy field); drop --url or use variant(s) "
                              f"{'/'.join(sorted(HTTP_VARIANTS[task]))}")
        if kind in kinds:
            raise ConfigError(f"variant {raw!r} given twice")
        kinds.append(kind)
    if http and configs:
        raise ConfigError("--config applies to the in-process runner; a running gateway uses "
                          "its own settings (drop --config or --url)")
    stems = [c.stem for c in configs or []]
    if len(set(stems)) != len(stems):
        raise ConfigError("two --config files share a name; variants are named after the file, "
                          "so rename one")
    for c in configs or []:
        if not c.is_file():
            raise ConfigError(f"config file {c} does not exist; pass an existing settings file")
    out = []
    for i, cfg in enumerate(configs or [None]):
        for kind in kinds:
            if kind in BASELINES[task]:
                if i == 0:  # the same answers under every settings file: run it once
                    out.append(Variant(name=kind, kind=kind, baseline=kind))
                continue
            name = kind if cfg is None else f"{kind}@{cfg.stem}"
            out.append(Variant(name=name, kind=kind, policy=table[kind], config=cfg))
    return out
