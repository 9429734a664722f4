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


def wilson(k: int, n: int, *, z: float = 1.959964) -> dict:
    """A rate k/n with its Wilson score interval (95% by default); rate None when n is 0."""
    if n == 0:
        return {"rate": None, "ci_low": None, "ci_high": None, "k": 0, "n": 0}
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"rate": p, "ci_low": float(max(0.0, centre - half)),
            "ci_high": float(min(1.0, centre + half)), "k": int(k), "n": int(n)}


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


def paired_ratio(baseline: dict[str, float], candidate: dict[str, float], *, seed: int,
                 n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE) -> dict | None:
    """mean(baseline) / mean(candidate) over the ids both have, with a paired bootstrap CI
    (e.g. ``full / constant`` MRS: the issue's "x times the constant baseline").

    None when the candidate's mean is 0; the CI is None when a resample's mean is 0."""
    ids = sorted(set(baseline) & set(candidate))
    b = np.array([baseline[i] for i in ids], dtype=float)
    c = np.array([candidate[i] for i in ids], dtype=float)
    if not ids or c.mean() == 0:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ids), size=(n_resamples, len(ids)))
    den = c[idx].mean(axis=1)
    out = {"ratio": float(b.mean() / c.mean()), "ci_low": None, "ci_high": None, "n": len(ids)}
    if (den > 0).all():
        out["ci_low"], out["ci_high"] = _interval(b[idx].mean(axis=1) / den, confidence)
    return out


def _flat(grams: dict[str, list], ids: list[str], vocab: dict) -> tuple[np.ndarray, np.ndarray]:
    """All n-grams of the ids as integers, and the position in ``ids`` each came from."""
    codes = [vocab.setdefault(g, len(vocab)) for i in ids for g in grams[i]]
    owner = [k for k, i in enumerate(ids) for _ in grams[i]]
    return np.asarray(codes, dtype=np.int64), np.asarray(owner, dtype=np.int64)


def _distinct(codes: np.ndarray, owner: np.ndarray, weights: np.ndarray) -> float | None:
    w = weights[owner]
    total = w.sum()
    return len(np.unique(codes[w > 0])) / total if total else None


def paired_bootstrap_distinct(baseline: dict[str, list], candidate: dict[str, list], *,
                              seed: int, n_resamples: int = N_RESAMPLES,
                              confidence: float = CONFIDENCE) -> dict | None:
    """Paired bootstrap of a corpus-level distinct-n (unique / all n-grams of every
    suggestion of every request), which is no mean of per-example values. Input: example
    id -> that example's n-grams. ``diff`` is candidate - baseline on all shared ids;
    the CI is the spread of the differences on resampled ids, re-centred on ``diff``.

    Why re-centred: an example drawn twice repeats its own n-grams, which lowers a
    varied variant's distinct-n more than a repetitive one's, so the resampled
    differences sit closer to 0 than the observed one (a plain percentile interval can
    miss the point estimate). Shifting them by (diff - their mean) keeps the bootstrap's
    spread around the observed difference. No interval is given for a level alone."""
    ids = sorted(set(baseline) & set(candidate))
    if not ids:
        return None
    vocab: dict = {}
    b_codes, b_owner = _flat(baseline, ids, vocab)
    c_codes, c_owner = _flat(candidate, ids, vocab)
    ones = np.ones(len(ids), dtype=np.int64)
    b, c = _distinct(b_codes, b_owner, ones), _distinct(c_codes, c_owner, ones)
    if b is None or c is None:
        return None
    rng = np.random.default_rng(seed)
    diffs = []
    for row in rng.integers(0, len(ids), size=(n_resamples, len(ids))):
        w = np.bincount(row, minlength=len(ids))
        rb, rc = _distinct(b_codes, b_owner, w), _distinct(c_codes, c_owner, w)
        if rb is not None and rc is not None:
            diffs.append(rc - rb)
    if not diffs:
        return None
    diffs = np.asarray(diffs)
    lo, hi = _interval(diffs + ((c - b) - diffs.mean()), confidence)
    return {"diff": float(c - b), "ci_low": lo, "ci_high": hi, "n": len(ids),
            "significant": bool(lo > 0 or hi < 0)}
