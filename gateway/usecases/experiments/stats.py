"""Statistics for experiment results: pure functions of counts (numpy and scipy only).

The unit of randomization is the user, and a user may see a task many times, so a
variant's rate is a ratio estimator (successes / trials, summed over its users) whose
variance comes from the delta method over users: requests of one user are not
treated as independent. With that variance:

- a rate's interval is Wilson's, on the effective sample size (trials shrunk by the
  design effect; with one trial per user it is the plain Wilson interval);
- a difference of rates gets Newcombe's hybrid score interval from the two Wilson
  intervals; a relative lift (treatment / control - 1) gets a delta-method interval
  on the log ratio;
- sample-ratio mismatch is a chi-square test of the users newly assigned in each
  allocation epoch against that epoch's allocation, summed over epochs;
- the stopping rule is a fixed horizon: the effective sample size per arm that a
  two-sided two-proportion test needs to detect the minimum detectable lift with
  the stated power. Before the horizon the answer is "keep waiting" whatever the
  interval shows (peeking at a fixed-horizon test inflates its error rate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

SRM_ALPHA = 0.001  # the usual threshold: an SRM alarm must almost never be noise


@dataclass(frozen=True)
class Rate:
    """A ratio rate over users with its ``1 - alpha`` Wilson interval."""

    users: int
    trials: int
    successes: int
    rate: float
    variance: float  # delta-method variance of ``rate`` (clustered by user)
    n_eff: float  # effective sample size (trials / design effect)
    low: float
    high: float


def _z(alpha: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2))


def wilson(p: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    z = _z(alpha)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio_rate(successes: Sequence[int] | np.ndarray, trials: Sequence[int] | np.ndarray,
               alpha: float = 0.05) -> Rate:
    """``successes[i]`` of ``trials[i]`` for user ``i``; users with no trials are ignored."""
    s = np.asarray(successes, dtype=float)
    t = np.asarray(trials, dtype=float)
    keep = t > 0
    s, t = s[keep], t[keep]
    n, total_t, total_s = len(t), float(t.sum()), float(s.sum())
    if n == 0:
        return Rate(0, 0, 0, 0.0, 0.0, 0.0, 0.0, 1.0)
    r = total_s / total_t
    if n > 1:
        resid = s - r * t
        var = float(resid @ resid) / (n * (n - 1)) / (total_t / n) ** 2
    else:
        var = r * (1 - r) / total_t
    binom = r * (1 - r)
    n_eff = binom / var if var > 0 and binom > 0 else total_t
    n_eff = min(n_eff, total_t) if n > 1 else total_t
    low, high = wilson(r, n_eff, alpha)
    return Rate(n, int(total_t), int(total_s), r, var, n_eff, low, high)


@dataclass(frozen=True)
class Comparison:
    difference: float
    diff_low: float
    diff_high: float
    lift: float | None  # treatment / control - 1
    lift_low: float | None
    lift_high: float | None
    significant: bool  # the difference interval excludes 0


def compare(treatment: Rate, control: Rate, alpha: float = 0.05) -> Comparison:
    """Newcombe hybrid score interval for the difference, delta-method (log ratio)
    interval for the relative lift; both at ``1 - alpha``."""
    d = treatment.rate - control.rate
    lo = d - math.sqrt((treatment.rate - treatment.low) ** 2 + (control.high - control.rate) ** 2)
    hi = d + math.sqrt((treatment.high - treatment.rate) ** 2 + (control.rate - control.low) ** 2)
    lift = lift_lo = lift_hi = None
    if treatment.rate > 0 and control.rate > 0:
        log_ratio = math.log(treatment.rate / control.rate)
        se = math.sqrt(treatment.variance / treatment.rate ** 2
                       + control.variance / control.rate ** 2)
        z = _z(alpha)
        lift = math.exp(log_ratio) - 1
        lift_lo, lift_hi = math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1
    significant = control.trials > 0 and treatment.trials > 0 and (lo > 0 or hi < 0)
    return Comparison(d, lo, hi, lift, lift_lo, lift_hi, significant)


@dataclass(frozen=True)
class SampleRatio:
    chi2: float
    dof: int
    p_value: float
    mismatch: bool


def sample_ratio(epochs: Sequence[tuple[Mapping[str, float], Mapping[str, int]]]) -> SampleRatio:
    """``epochs``: (expected share per variant, users newly assigned per variant) for
    each allocation epoch. Variants with no share in an epoch must have no users."""
    chi2, dof = 0.0, 0
    for shares, counts in epochs:
        total = sum(counts.values())
        live = {v: w for v, w in shares.items() if w > 0}
        if total == 0 or not live:
            continue
        weight = sum(live.values())
        for v, n in counts.items():
            if v not in live and n:
                return SampleRatio(math.inf, max(dof, 1), 0.0, True)
        for v, w in live.items():
            expected = total * w / weight
            chi2 += (counts.get(v, 0) - expected) ** 2 / expected
        dof += len(live) - 1
    if dof == 0:
        return SampleRatio(0.0, 0, 1.0, False)
    p = float(sps.chi2.sf(chi2, dof))
    return SampleRatio(chi2, dof, p, p < SRM_ALPHA)


def required_per_arm(baseline: float, min_lift: float, *, alpha: float = 0.05,
                     power: float = 0.8) -> int | None:
    """Observations per arm for a two-sided two-proportion z-test to detect a relative
    lift of ``min_lift`` over ``baseline`` with ``power``; None when undefined."""
    p0 = baseline
    p1 = p0 * (1 + min_lift)
    if not (0 < p0 < 1 and 0 < p1 < 1) or p1 == p0:
        return None
    pbar = (p0 + p1) / 2
    za, zb = _z(alpha), float(sps.norm.ppf(power))
    n = (za * math.sqrt(2 * pbar * (1 - pbar))
         + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) ** 2 / (p1 - p0) ** 2
    return math.ceil(n)
