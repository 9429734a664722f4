"""Each metric against values worked out by hand (the working is in the comments)."""

import math

import numpy as np
import pytest

from embeddings.embedder import HashEmbedder
from evals import metrics as M
from evals.compare import bootstrap_mean, compare_variants, paired_bootstrap
from evals.loaders import Example
from evals.scoring import Evaluator, grounding_checker, per_example


def test_rouge_f1_by_hand():
    # pred "the cat sat" vs ref "the cat sat on the mat":
    # R1: 3 of 3 pred unigrams match, 3 of 6 ref -> P=1, R=.5, F=2/3
    # R2: pred bigrams (the cat)(cat sat) both in ref's 5 -> P=1, R=.4, F=.8/1.4=4/7
    # RL: LCS 3 -> same as R1
    r = M.rouge("the cat sat", "the cat sat on the mat")
    assert r["rouge1"] == pytest.approx(2 / 3)
    assert r["rouge2"] == pytest.approx(4 / 7)
    assert r["rougeL"] == pytest.approx(2 / 3)
    assert M.rouge("completely different", "the cat sat")["rouge1"] == 0.0


def test_rouge_uses_stemming():
    # Porter: running -> run, dogs -> dog, so every token matches.
    assert M.rouge("running dogs", "run dog")["rouge1"] == pytest.approx(1.0)


def test_weighted_and_best_of_n_rouge():
    # R1/6 + R2/3 + RL/2 = (2/3)/6 + (4/7)/3 + (2/3)/2
    expected = (2 / 3) / 6 + (4 / 7) / 3 + (2 / 3) / 2
    assert M.weighted_rouge("the cat sat", ["the cat sat on the mat"]) == pytest.approx(expected)
    # best reference wins; identical reference scores 1/6+1/3+1/2 = 1
    assert M.weighted_rouge("the cat sat", ["zzz", "the cat sat"]) == pytest.approx(1.0)
    assert M.best_of_n_weighted_rouge(["dog", "the cat sat"],
                                      ["the cat sat on the mat"]) == pytest.approx(expected)
    assert M.best_of_n_weighted_rouge([], ["anything"]) == 0.0


def test_sentence_bleu_by_hand():
    # pred "the cat sat on the mat" vs ref "the cat sat on a mat", equal length (BP=1).
    # clipped n-gram precisions: 1-gram 5/6, 2-gram 3/5, 3-gram 2/4, 4-gram 1/3
    # BLEU = (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) * 100
    expected = (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25 * 100
    assert M.sentence_bleu("the cat sat on the mat", ["the cat sat on a mat"]) == pytest.approx(
        expected, abs=0.01)
    assert M.sentence_bleu("the cat sat on the mat", ["xyz", "the cat sat on the mat"]) == (
        pytest.approx(100.0))


def test_distinct_n_by_hand():
    # unigrams a b a a c: 3 unique / 5; bigrams (a b)(b a)(a c): 3 / 3 (not across texts)
    assert M.distinct_n(["a b a", "a c"], 1) == pytest.approx(0.6)
    assert M.distinct_n(["a b a", "a c"], 2) == pytest.approx(1.0)
    assert M.distinct_n(["same words", "same words"], 2) == pytest.approx(0.5)
    assert M.distinct_n([], 1) is None and M.distinct_n(["one"], 2) is None


def test_self_similarity_by_hand():
    # cos(e1,e2)=0, cos(e1,d)=cos(e2,d)=1/sqrt2 with d=(1,1): mean of 3 pairs = sqrt2/3
    v = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
    assert M.self_similarity(v) == pytest.approx(math.sqrt(2) / 3)
    assert M.self_similarity(np.array([[3.0, 4.0], [6.0, 8.0]])) == pytest.approx(1.0)
    assert M.self_similarity(v[:1]) is None


def test_percentiles_linear_interpolation():
    got = M.percentiles(list(range(1, 101)))
    # rank = q/100 * (n-1): p50 -> 49.5 -> 50.5; p95 -> 94.05 -> 95.05; p99 -> 98.01 -> 99.01
    assert got == pytest.approx({"p50": 50.5, "p95": 95.05, "p99": 99.01})
    assert M.percentiles([]) == {}


def test_check_counts_per_check_and_action():
    checks = [[{"name": "pii", "passed": False, "action": "repair"},
               {"name": "grounding", "passed": True}],
              [{"name": "pii", "passed": True}, {"name": "grounding", "passed": False,
                                                 "action": "flag"}],
              [{"name": "pii", "passed": False, "action": "block"}]]
    assert M.check_counts(checks) == {
        "pii": {"block": 1, "repair": 1, "flag": 0, "seen": 3},
        "grounding": {"block": 0, "repair": 0, "flag": 1, "seen": 2}}


def _response(texts, *, reason=None, checks=None, source="llm", triggered=True):
    return {"suggestions": [{"text": t, "source": source, "score": 0.5,
                             "checks": checks or []} for t in texts],
            "fallback_reason": reason, "triggered": triggered, "personalized": False}


def test_evaluator_scores_one_example():
    ex = Example("e1", {"message": {"from": "a@b.c", "body": "Can we meet Friday at 3pm?"}},
                 ["Friday at 3pm works for me."])
    ev = Evaluator("smart-replies", embed=HashEmbedder().embed, grounding=grounding_checker())
    s = ev.score(ex, _response(["Friday at 3pm works for me.", "Monday at 5pm works."]), 12.0)
    assert s["rouge1"] == pytest.approx(1.0) and s["mrs"] == pytest.approx(1.0)
    assert s["bleu"] == pytest.approx(100.0)
    assert s["embed_sim"] == pytest.approx(1.0, abs=1e-5)
    # "Monday" and "5pm" are in no source: one of two suggestions is unsupported.
    assert s["unsupported_rate"] == pytest.approx(0.5)
    assert s["triggered"] == 1.0 and s["fallback"] == 0.0 and s["error"] == 0.0
    assert s["llm_share"] == 1.0 and s["latency_ms"] == 12.0 and s["n_suggestions"] == 2
    assert s["self_sim"] is not None and s["self_sim"] < 1.0

    failed = ev.score(ex, None, 5.0)
    assert failed["error"] == 1.0 and failed["mrs"] == 0.0 and failed["rouge1"] == 0.0
    assert failed["distinct1_per_request"] is None and failed["unsupported_rate"] is None


def test_alternative_references_score_the_best_match_per_metric():
    # AESLC: the original subject first, then three annotators' subjects.
    ex = Example("a", {"campaign": {"body": "gas contract review"}},
                 ["Contract", "gas contract review", "review", "contract"])
    s = Evaluator("subject-lines").score(ex, _response(["gas contract"]), 1.0)
    # vs the original "Contract": P=1/2 R=1 -> F1 2/3.
    assert s["rouge1"] == pytest.approx(2 / 3)
    # Alternatives: "gas contract review" P=1 R=2/3 -> F1 .8 (best); "review" 0; "contract"
    # P=1/2 R=1 -> 2/3. R2: only the first has the bigram (gas contract): P=1 R=1/2 -> 2/3.
    assert s["rouge1_alt"] == pytest.approx(0.8)
    assert s["rouge2_alt"] == pytest.approx(2 / 3)
    assert s["rougeL_alt"] == pytest.approx(0.8)
    assert Evaluator("subject-lines").score(ex, None, 1.0)["rouge1_alt"] == 0.0
    single = Example("b", ex.request, ["Contract"])
    assert "rouge1_alt" not in Evaluator("subject-lines").score(single, _response(["x"]), 1.0)


def test_evaluator_aggregates_rates_and_percentiles():
    ev = Evaluator("subject-lines")
    assert ev.primary_metric == "rouge1"
    ex = Example("x", {"campaign": {"body": "Spring sale"}}, ["Spring sale"])
    flag = [{"name": "pii", "passed": False, "action": "flag"}]
    recs = []
    for i, (resp, lat) in enumerate([(_response(["Spring sale"], checks=flag), 100.0),
                                     (_response(["Sale", "Spring"], reason="timeout"), 200.0),
                                     (_response(["Spring"], reason="timeout"), 300.0),
                                     (None, 400.0)]):
        recs.append({"id": str(i), "response": resp, "scores": ev.score(ex, resp, lat)})
    agg = ev.aggregate(recs)
    assert agg["examples"] == 4
    assert agg["error_rate"] == pytest.approx(0.25)
    assert agg["fallback_rate"] == pytest.approx(2 / 3)  # of the 3 answered
    assert agg["fallback_rate.timeout"] == pytest.approx(2 / 3)
    assert agg["guardrail.pii.flag_rate"] == pytest.approx(1 / 4)  # 1 of 4 served suggestions
    assert agg["latency_p50_ms"] == pytest.approx(250.0)
    # top-1 vs "Spring sale": exact 1; "Sale" and "Spring" P=1 R=1/2 F=2/3; failed request 0
    assert agg["rouge1"] == pytest.approx((1.0 + 2 / 3 + 2 / 3 + 0.0) / 4)
    assert "trigger_rate" not in agg  # subject lines have no trigger
    per = per_example(recs)
    assert per["error_rate"] == {"0": 0.0, "1": 0.0, "2": 0.0, "3": 1.0}
    assert "latency_ms" not in per


def test_paired_bootstrap_by_hand():
    base = {"a": 0.0, "b": 0.0, "c": 0.5}
    # constant difference +1 on the shared ids a, b; "z" has no pair and is ignored
    got = paired_bootstrap({"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 1.0, "z": 9.0}, seed=0)
    assert got == {"diff": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 2, "significant": True}
    # identical variants: difference 0, CI [0, 0], not significant
    same = paired_bootstrap(base, dict(base), seed=0)
    assert same["diff"] == 0 and not same["significant"]
    # mixed: diffs (+1, -1): mean 0, the CI straddles 0 and is reproducible with the seed
    mixed = paired_bootstrap({"a": 0.0, "b": 1.0}, {"a": 1.0, "b": 0.0}, seed=3)
    assert mixed["diff"] == 0 and mixed["ci_low"] < 0 < mixed["ci_high"]
    assert mixed == paired_bootstrap({"a": 0.0, "b": 1.0}, {"a": 1.0, "b": 0.0}, seed=3)
    assert paired_bootstrap({"a": 1.0}, {"b": 1.0}, seed=0) is None


def test_bootstrap_mean_and_compare_variants():
    got = bootstrap_mean([0.0, 1.0, 0.0, 1.0], seed=0)
    assert got["mean"] == 0.5 and 0.0 <= got["ci_low"] < 0.5 < got["ci_high"] <= 1.0
    assert bootstrap_mean([], seed=0) is None
    per = {"full": {"mrs": {"a": 0.2, "b": 0.4}},
           "rules": {"mrs": {"a": 0.1, "b": 0.3}, "only_here": {"a": 1.0}}}
    cmp = compare_variants(per, seed=0)
    assert set(cmp) == {"rules"} and set(cmp["rules"]) == {"mrs"}
    assert cmp["rules"]["mrs"]["diff"] == pytest.approx(-0.1)
    assert compare_variants({"full": per["full"]}, seed=0) == {}


def test_a_smart_reply_may_draw_on_its_sender_and_users_history_a_subject_line_may_not():
    history = {"dave": [{"kind": "sent_reply", "text": "Sure thing, 30% off it is.\n\nBest,\nDavid",
                         "context": "Can you send the slides?"}]}
    ex = Example("e1", {"user_id": "dave",
                        "message": {"from": "Ana Lopez <ana@b.c>", "body": "Can we meet Friday?"}},
                 ["Friday works."], user="dave")
    texts = ["Hi Ana,\nFriday works.\nBest, David", "Friday works.\nBest, Paolo"]
    with_history = Evaluator("smart-replies", grounding=grounding_checker(), histories=history)
    alone = Evaluator("smart-replies", grounding=grounding_checker())
    # the sender greeted and the user's own name are sources; "Paolo" is in none
    assert with_history.score(ex, _response(texts), 1.0)["unsupported_rate"] == \
        pytest.approx(0.5)
    assert alone.score(ex, _response(texts), 1.0)["unsupported_rate"] == pytest.approx(1.0)
    campaign = Example("c1", {"user_id": "dave", "campaign": {"body": "Spring sale: 20% off."}},
                       ["Spring sale"], user="dave")
    sl = Evaluator("subject-lines", grounding=grounding_checker(), histories=history)
    got = sl.score(campaign, _response(["30% off: spring sale"]), 1.0)
    assert got["unsupported_rate"] == 1.0  # a campaign's claims come from the campaign only
