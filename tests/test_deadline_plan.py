"""The per-request time plan both generation use cases share."""

import time

import pytest

from gateway.usecases.common import Deadline


def test_the_model_stops_a_reserve_before_the_answer_is_due():
    d = Deadline.plan(3000, reserve_ms=450)
    assert d.at - d.start == pytest.approx(3.0)
    assert d.at - d.model_at == pytest.approx(0.45)
    assert 2900 < d.left_ms() <= 3000 and 2450 < d.model_left_ms() <= 2550


def test_a_model_budget_caps_sampling_only_when_it_is_earlier():
    capped = Deadline.plan(1500, reserve_ms=300, model_budget_ms=800)
    assert capped.model_at - capped.start == pytest.approx(0.8)
    loose = Deadline.plan(1500, reserve_ms=300, model_budget_ms=5000)
    assert loose.model_at - loose.start == pytest.approx(1.2)


def test_time_runs_out():
    d = Deadline.plan(20, reserve_ms=10)
    time.sleep(0.03)
    assert d.left_ms() < 0 and d.model_left_ms() < 0 and d.elapsed_ms() >= 30
