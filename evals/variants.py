"""Variants: named configurations of a use case compared on the same examples.

A variant is a use-case mode (``full`` / ``rules`` / ``model``), whether history
is read (``personalized`` / ``plain``), and optionally a settings file
(``--config``: another model, another prompt version). Names are what the report
shows: ``full``, or ``full@gpt4o`` when a settings file ``gpt4o.env`` is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.core.errors import ConfigError

# name -> keyword arguments for the use case ("plain" = do not read history).
VARIANTS: dict[str, dict[str, dict]] = {
    "smart-replies": {
        "full": {"mode": "full"},
        "rules": {"mode": "rules"},
        "model": {"mode": "model"},
        "plain": {"mode": "full", "personalize": False},
    },
    "subject-lines": {
        "personalized": {"mode": "full", "personalize": True},
        "plain": {"mode": "full", "personalize": False},
        "rules": {"mode": "rules", "personalize": True},
        "rules-plain": {"mode": "rules", "personalize": False},
        "model": {"mode": "model", "personalize": True},
    },
}
ALIASES = {"subject-lines": {"full": "personalized", "non-personalized": "plain",
                             "rules-only": "rules", "model-only": "model"},
           "smart-replies": {"rules-only": "rules", "model-only": "model",
                             "non-personalized": "plain"}}
DEFAULT_VARIANT = {"smart-replies": "full", "subject-lines": "personalized"}
HTTP_VARIANTS = {"full", "personalized", "plain"}  # the HTTP API has no mode field


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str
    options: dict = field(default_factory=dict, hash=False, compare=False)
    config: Path | None = None

    @property
    def personalize(self) -> bool:
        return self.options.get("personalize", True)


def resolve(task: str, names: list[str] | None, configs: list[Path] | None, *,
            http: bool = False) -> list[Variant]:
    """Variants to run, in order (the first is the baseline of every comparison)."""
    table = VARIANTS[task]
    kinds = []
    for raw in names or [DEFAULT_VARIANT[task]]:
        kind = ALIASES[task].get(raw, raw)
        if kind not in table:
            raise ConfigError(f"unknown variant {raw!r} for {task}; choose from "
                              f"{', '.join(table)}")
        if http and kind not in HTTP_VARIANTS:
            raise ConfigError(f"variant {raw!r} needs the in-process runner (the HTTP API has "
                              "no mode field); drop --url or use variants full/plain")
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
    for cfg in configs or [None]:
        for kind in kinds:
            name = kind if cfg is None else f"{kind}@{cfg.stem}"
            out.append(Variant(name=name, kind=kind, options=dict(table[kind]), config=cfg))
    return out
