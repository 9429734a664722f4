"""The statistics are right: simulated experiments with known truths (seeded, cheap).

Users are the unit of randomization and see the task several times each, with their
own response rate (beta-distributed around the arm's rate), so the tests also check
that repeated requests of one user are not counted as independent evidence.
"""

import numpy as np
import pytest

from gateway.usecases.experiments import stats

SIMS = 1000


def _arm(rng, rate: float, users: int, concentration: float = 8.0):
    q = rng.beta(rate * concentration, (1 - rate) * concentration, size=users)
    trials = 1 + rng.poisson(2.0, size=users)
    return rng.binomial(trials, q), trials


def _run(seed: int, p_control: float, p_treat: float, users: int = 2000):
    rng = np.random.default_rng(seed)
    c = stats.ratio_rate(*_arm(rng, p_control, users))
    t = stats.ratio_rate(*_arm(rng, p_treat, users))
    return stats.compare(t, c)


def test_lift_interval_covers_the_true_lift_at_its_nominal_rate():
    p0, lift = 0.20, 0.15
    covered = diff_covered = 0
    for seed in range(SIMS):
        cmp = _run(seed, p0, p0 * (1 + lift))
        covered += cmp.lift_low <= lift <= cmp.lift_high
        diff_covered += cmp.diff_low <= p0 * lift <= cmp.diff_high
    assert abs(covered / SIMS - 0.95) <= 0.02, covered / SIMS
    assert abs(diff_covered / SIMS - 0.95) <= 0.02, diff_covered / SIMS


def test_a_a_experiment_declares_a_difference_no_more_often_than_alpha():
    false_positives = sum(_run(10_000 + seed, 0.3, 0.3).significant for seed in range(SIMS))
    # alpha = 0.05; 2 points of slack is ~3 standard errors of the simulated rate.
    assert false_positives / SIMS <= 0.05 + 0.02, false_positives / SIMS


def test_ignoring_clustering_would_undercover():
    """Why the delta method: the naive binomial interval on requests is too narrow here."""
    rng = np.random.default_rng(1)
    s, t = _arm(rng, 0.2, 2000, concentration=2.0)
    clustered = stats.ratio_rate(s, t)
    naive = stats.wilson(clustered.rate, clustered.trials)
    assert clustered.n_eff < 0.8 * clustered.trials
    assert (clustered.high - clustered.low) > (naive[1] - naive[0])


def test_one_trial_per_user_is_plain_wilson():
    r = stats.ratio_rate([1] * 30 + [0] * 70, [1] * 100)
    low, high = stats.wilson(0.3, 100)
    assert r.rate == 0.3 and r.low == pytest.approx(low, abs=0.003)
    assert r.high == pytest.approx(high, abs=0.003)


def test_power_calculation_matches_the_textbook_value():
    # 10% -> 12% (20% relative lift), alpha 0.05, power 0.8: 3,841 per arm (two-sided).
    assert stats.required_per_arm(0.10, 0.20) == pytest.approx(3841, abs=5)
    assert stats.required_per_arm(0.0, 0.2) is None


def test_the_fixed_horizon_test_has_its_power_at_the_horizon():
    p0, lift = 0.2, 0.2
    n = stats.required_per_arm(p0, lift)
    hits = 0
    for seed in range(400):
        rng = np.random.default_rng(50_000 + seed)
        c = stats.ratio_rate(rng.binomial(1, p0, n), np.ones(n))
        t = stats.ratio_rate(rng.binomial(1, p0 * (1 + lift), n), np.ones(n))
        hits += stats.compare(t, c).significant
    assert abs(hits / 400 - 0.8) <= 0.06, hits / 400


def test_sample_ratio_mismatch_is_flagged_per_epoch():
    fine = stats.sample_ratio([({"control": 99, "t": 1}, {"control": 9890, "t": 110}),
                               ({"control": 50, "t": 50}, {"control": 5020, "t": 4980})])
    assert not fine.mismatch and fine.dof == 2
    bad = stats.sample_ratio([({"control": 50, "t": 50}, {"control": 5300, "t": 4700})])
    assert bad.mismatch and bad.p_value < 0.001
    # Users in a variant that had no share in that epoch: a bug in assignment.
    assert stats.sample_ratio([({"control": 100, "t": 0}, {"control": 10, "t": 1})]).mismatch
