"""The side-by-side benchmark's statistics (benchmarks/bench_vs_litellm.py): overhead is
client latency minus the upstream's delay, req/s over the measured time."""

from benchmarks.bench_vs_litellm import history_items, ratio, summarize


def test_summarize_subtracts_the_upstream_delay():
    got = summarize([80.0, 60.0, 300.0, 70.0], delay_ms=50, seconds=2.0)
    assert got == {"requests": 4, "p50_ms": 70.0, "p99_ms": 300.0,
                   "overhead_p50_ms": 20.0, "overhead_p99_ms": 250.0, "rps": 2.0}


def test_summarize_of_nothing_says_so():
    assert summarize([], delay_ms=50, seconds=0) == {"requests": 0}


def test_ratio_is_none_without_a_positive_denominator():
    assert ratio(30.0, 15.0) == 2.0
    assert ratio(30.0, 0.0) is None
    assert ratio(None, 15.0) is None


def test_the_user_has_forty_past_replies():
    kinds = [item["kind"] for item in history_items()]
    assert kinds.count("sent_reply") == 40
    assert len({item["id"] for item in history_items()}) == len(kinds)
