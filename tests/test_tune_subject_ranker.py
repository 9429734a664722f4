"""The ranker tuner's cross-validation (benchmarks/tune_subject_ranker.py) on pools
built by hand, where the right weights are known."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gateway.usecases.subjects.rank import DEFAULT_WEIGHTS, FEATURES

_spec = importlib.util.spec_from_file_location(
    "tune_subject_ranker", Path(__file__).parents[1] / "benchmarks" / "tune_subject_ranker.py")
tune = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tune)

AUTH = FEATURES.index("authorship")


def _example(i: int, user: str, *, signal: bool) -> dict:
    # Two candidates: the second is the better subject (ROUGE-1 100 vs 50). In the personalized
    # pool authorship tells them apart; without history they look the same (a tie goes
    # to the first, wrong one, whatever the weights).
    feats = np.zeros((2, len(FEATURES)))
    feats[:, FEATURES.index("relevance")] = 0.5
    if signal:
        feats[1, AUTH] = 1.0
    return {"id": f"e{i}", "user": user, "features": feats.tolist(), "rouge1": [50.0, 100.0]}


def test_cross_validation_scores_held_out_choices_and_the_lift():
    users = [f"u{k}" for k in range(6)]
    data = {"pers": [_example(i, users[i % 6], signal=True) for i in range(60)],
            "plain": [_example(i, users[i % 6], signal=False) for i in range(60)]}
    w0 = DEFAULT_WEIGHTS.vector().copy()
    w0[AUTH] = 0.0  # start with authorship off: only fitting can find it
    for group in ("example", "author"):
        cv = tune.cross_validate(data, ["pers", "plain"], folds=2, group=group, w0=w0,
                                 frozen={"preference"}, rounds=2)
        assert cv["examples"] == 60 and cv["groups"] == (60 if group == "example" else 6)
        # Fitted on the other fold, authorship gets a positive weight: every held-out pick is
        # the better one with history, the first one without it.
        assert cv["pers"] == pytest.approx(100.0) and cv["plain"] == pytest.approx(50.0)
        assert cv["lift"] == pytest.approx(1.0) and cv["lift_ci"] == pytest.approx([1.0, 1.0])


def test_transfer_scores_each_weight_set_on_other_pools_with_a_paired_ci():
    users = [f"u{k}" for k in range(4)]
    test = {"pers": [_example(i, users[i % 4], signal=True) for i in range(20)],
            "plain": [_example(i, users[i % 4], signal=False) for i in range(20)]}
    on, off = DEFAULT_WEIGHTS.vector().copy(), DEFAULT_WEIGHTS.vector().copy()
    on[AUTH], off[AUTH] = 1.0, 0.0
    out = tune.transfer(test, ["pers", "plain"], {"on": on, "off": off})
    assert out["examples"] == 20 and out["authors"] == 4
    # authorship on picks the better candidate with history; off it ties to the first one
    assert out["on"]["pers"] == 100.0 and out["on"]["plain"] == 50.0
    assert out["on"]["diff"] == 50.0 and out["on"]["diff_ci"] == [50.0, 50.0]
    assert out["off"]["diff"] == 0.0 and out["off"]["lift"] == 0.0


def test_neutral_start_is_relevance_alone_and_fitting_finds_authorship_from_it():
    w0 = tune.neutral_start()
    assert w0[FEATURES.index("relevance")] == 1.0 and w0[AUTH] == 0.0
    data = {"pers": [_example(i, "u0", signal=True) for i in range(10)]}
    w = tune.fit(data, w0.copy(), {"preference"}, rounds=1)
    assert w[AUTH] > 0 and tune.top1(data["pers"], w) == 100.0
