"""Paired bootstrap confidence intervals (numpy, fixed seed).

Variants run on the same examples, so a difference is judged per example
(paired): resample example ids with replacement, average the per-example
differences, and read the 2.5th/97.5th percentiles. An interval that excludes
0 is a difference the sample supports; one that straddles 0 is not.
"""

from __future__ import annotations

import numpy as np

N_RESAMPLES = 2000
CONFIDENCE = 0.95


def _interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_mean(values, *, seed: int, n_resamples: int = N_RESAMPLES,
                   confidence: float = CONFIDENCE) -> dict | None:
    """Mean of ``values`` with a percentile-bootstrap CI; None when there are no values."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)
    lo, hi = _interval(means, confidence)
    return {"mean": float(x.mean()), "ci_low": lo, "ci_high": hi, "n": int(x.size)}


def paired_bootstrap(baseline: dict[str, float], candidate: dict[str, float], *, seed: int,
                     n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE) -> dict | None:
    """Mean of (candidate - baseline) over the ids both have, with a bootstrap CI.

    ``significant`` is True when the interval excludes 0."""
    ids = sorted(set(baseline) & set(candidate))
    if not ids:
        return None
    d = np.array([candidate[i] - baseline[i] for i in ids], dtype=float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_resamples, d.size))].mean(axis=1)
    lo, hi = _interval(means, confidence)
    return {"diff": float(d.mean()), "ci_low": lo, "ci_high": hi, "n": int(d.size),
            "significant": bool(lo > 0 or hi < 0)}


def compare_variants(per_variant: dict[str, dict[str, dict[str, float]]], *, seed: int,
                     n_resamples: int = N_RESAMPLES) -> dict[str, dict[str, dict]]:
    """For each variant after the first: metric -> paired bootstrap vs the first.

    ``per_variant`` is variant -> metric -> (example id -> value), in run order."""
    names = list(per_variant)
    if len(names) < 2:
        return {}
    base = per_variant[names[0]]
    out: dict[str, dict[str, dict]] = {}
    for name in names[1:]:
        out[name] = {}
        for metric, values in per_variant[name].items():
            if metric in base:
                got = paired_bootstrap(base[metric], values, seed=seed, n_resamples=n_resamples)
                if got is not None:
                    out[name][metric] = got
    return out
