"""Issue #18 harness parts: the constant top-3 baseline, corpus-level distinct-n, the
primary-metric ratio vs the baseline, and what the reports show of them."""

import asyncio
import json

import pytest
from evals_fixtures import fake_usecase, write_tsv
from typer.testing import CliRunner

from evals import metrics as M
from evals.baselines import ConstantTarget, top_replies
from evals.cli import eval_app
from evals.compare import paired_bootstrap_distinct, paired_ratio, wilson
from evals.loaders import Example, load_dataset
from evals.runner import ResultStore, run_all
from evals.scoring import Evaluator
from evals.variants import resolve
from gateway.core.errors import ConfigError

ENV = {"PERSONA_MODELS": '["fake/test"]', "PERSONA_EMBEDDING_MODEL": "hash",
       "PERSONA_LOAD_MODELS": "false"}
SHORT_REPLIES = [
    ("Can you make it?", "Thank you!"), ("Lunch?", "thank  you!"), ("Ready?", "Thank you!"),
    ("Done?", "Thanks!"), ("Coming?", "thanks!"), ("Free?", "Yes"), ("Here?", "yes"),
    ("Now?", "Yeah"),  # once: ranked below the three
    # seven words: too long for the constant, however often it occurs
    ("Q1", "I will get back to you soon"), ("Q2", "I will get back to you soon"),
    ("Q3", "I will get back to you soon"), ("Q4", "I will get back to you soon"),
]


def test_top_replies_are_the_most_frequent_normalized_short_references():
    refs = [r for _, r in SHORT_REPLIES]
    assert top_replies(refs) == ["thank you!", "thanks!", "yes"]
    # ties go to the alphabetically first; k and the word limit are parameters
    assert top_replies(["b", "a", "c", "a", "b"], k=2) == ["a", "b"]
    assert top_replies(refs, max_words=7)[0] == "i will get back to you soon"


def test_constant_variant_answers_from_the_data_and_never_builds_a_gateway(tmp_path):
    ds = load_dataset("smart-replies", write_tsv(tmp_path / "p.tsv", SHORT_REPLIES))
    store = ResultStore(tmp_path / "out" / "results.jsonl")

    async def no_gateway(_cfg):
        raise AssertionError("the constant baseline must not need the gateway")

    try:
        stats, described = asyncio.run(run_all(
            task="smart-replies", dataset=ds, examples=ds.examples[:5],
            variants=resolve("smart-replies", ["constant"], None), make_target=no_gateway,
            evaluator=Evaluator("smart-replies"), store=store, concurrency=1))
    finally:
        store.close()
    recs = store.for_variant("constant", ds.examples[:5])
    assert len(recs) == 5 and stats.ran == {"constant": 5}
    # computed from the whole file, not only the five examples evaluated
    assert all([s["text"] for s in r["response"]["suggestions"]]
               == ["thank you!", "thanks!", "yes"] for r in recs)
    assert described["constant"]["replies"] == ["thank you!", "thanks!", "yes"]
    # example 0's reference is "Thank you!": best-of-3 finds it exactly
    assert recs[0]["scores"]["mrs"] == pytest.approx(1.0)
    assert recs[0]["scores"]["llm_share"] == 0.0


def test_constant_is_run_once_across_settings_files_and_only_for_smart_replies(tmp_path):
    a, b = tmp_path / "a.env", tmp_path / "b.env"
    a.write_text("")
    b.write_text("")
    got = resolve("smart-replies", ["full", "constant"], [a, b])
    assert [v.name for v in got] == ["full@a", "constant", "full@b"]
    assert got[1].baseline == "constant" and got[1].config is None
    assert resolve("smart-replies", ["constant"], None, http=True)[0].baseline == "constant"
    with pytest.raises(ConfigError, match="unknown variant 'constant' for subject-lines"):
        resolve("subject-lines", ["constant"], None)


def test_constant_target_serves_at_most_n():
    ex = [Example("a", {"n": 2}, ["ok"]), Example("b", {"n": 2}, ["sure"]),
          Example("c", {"n": 2}, ["no"])]
    got = asyncio.run(ConstantTarget(ex).generate("smart-replies", ex[0], None))
    assert [s["text"] for s in got["suggestions"]] == ["no", "ok"]


def test_corpus_distinct_by_hand():
    requests = [["a b", "a b"], ["a c"]]
    # unigrams a b a b | a c: 3 distinct of 6; bigrams (a b) (a b) | (a c): 2 of 3
    assert M.corpus_distinct(requests, 1) == pytest.approx(3 / 6)
    assert M.corpus_distinct(requests, 2) == pytest.approx(2 / 3)
    assert M.corpus_distinct([[], []], 1) is None
    ev = Evaluator("smart-replies")
    ex = Example("x", {"message": {"body": "hi"}}, ["a b"])
    recs = [{"id": str(i), "response": {"suggestions": [{"text": t} for t in texts]},
             "scores": ev.score(ex, {"suggestions": [{"text": t} for t in texts]}, 1.0)}
            for i, texts in enumerate(requests)]
    recs.append({"id": "failed", "response": None, "scores": ev.score(ex, None, 1.0)})
    agg = ev.aggregate(recs)
    assert agg["distinct1_corpus"] == pytest.approx(0.5)
    assert agg["distinct2_corpus"] == pytest.approx(2 / 3)
    # per request: (2/4 + 2/2) / 2 and (1/2 + 1/1) / 2; the failed request is undefined
    assert agg["distinct1_per_request"] == pytest.approx(0.75)
    assert agg["distinct2_per_request"] == pytest.approx(0.75)


def test_paired_bootstrap_of_corpus_distinct():
    varied = {str(i): M.ngrams([f"word{i} other{i}"], 1) for i in range(20)}
    same = {str(i): M.ngrams(["thank you"], 1) for i in range(20)}
    assert paired_bootstrap_distinct(varied, dict(varied), seed=0) == {
        "diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 20, "significant": False}
    got = paired_bootstrap_distinct(varied, same, seed=0)
    # varied: 40 of 40 distinct; same: 2 of 40
    assert got["diff"] == pytest.approx(2 / 40 - 1.0)
    assert got["significant"] and got["ci_high"] < 0
    # the interval is centred on the observed difference (a resample that repeats an
    # example lowers the varied variant's distinct-n: a plain percentile one would miss it)
    assert got["ci_low"] <= got["diff"] <= got["ci_high"]


def test_paired_ratio_and_wilson_by_hand():
    got = paired_ratio({"a": 2.0, "b": 4.0}, {"a": 1.0, "b": 2.0, "z": 5.0}, seed=0)
    assert got == {"ratio": 2.0, "ci_low": 2.0, "ci_high": 2.0, "n": 2}
    assert paired_ratio({"a": 1.0}, {"a": 0.0}, seed=0) is None
    w = wilson(8, 10)
    # Wilson 95%: centre (0.8 + 1.92/10) / 1.384, half-width 1.96*sqrt(.016+.00096)/1.384
    assert w["rate"] == 0.8 and w["ci_low"] == pytest.approx(0.4902, abs=1e-3)
    assert w["ci_high"] == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 0)["rate"] is None


@pytest.fixture
def cli(monkeypatch):
    import evals.targets

    monkeypatch.setattr(evals.targets, "_usecase", fake_usecase)
    runner = CliRunner()

    def invoke(*args):
        res = runner.invoke(eval_app, list(args), env=ENV)
        return res.exit_code, res.output

    return invoke


def test_reports_show_the_constant_ratio_and_both_distinct_figures(cli, tmp_path):
    data = write_tsv(tmp_path / "pairs.tsv", SHORT_REPLIES)
    out = tmp_path / "out"
    code, text = cli("smart-replies", "--data", str(data), "--out", str(out),
                     "--variant", "full", "--variant", "constant")
    assert code == 0, text
    m = json.loads((out / "metrics.json").read_text())
    const = m["variants"]["constant"]
    assert const["baseline"] == "constant" and const["policy"] is None
    assert const["runner"] == "constant"
    # every request got the same three lines: 4 distinct unigrams (thank you thanks yes)
    # of 4 per request, 12 requests
    assert const["metrics"]["distinct1_corpus"] == pytest.approx(4 / 48)
    assert const["metrics"]["distinct1_per_request"] == pytest.approx(1.0)
    for key in ("distinct1_corpus", "distinct2_corpus", "distinct2_per_request"):
        assert key in m["variants"]["full"]["metrics"]
        assert key in m["comparisons"]["constant"]
    ratio = m["ratios"]["by_variant"]["constant"]
    full_mrs, const_mrs = (m["variants"][v]["metrics"]["mrs"] for v in ("full", "constant"))
    assert ratio["ratio"] == pytest.approx(full_mrs / const_mrs)
    assert m["ratios"]["metric"] == "mrs" and m["ratios"]["numerator"] == "full"
    md = (out / "report.md").read_text()
    assert f"- full / constant mrs = {ratio['ratio']:.2f} [" in md
    assert "| distinct2_corpus ↑ |" in md and "| distinct2_per_request ↑ |" in md
    html = (out / "report.html").read_text()
    assert 'id="ratios"' in html and "full / constant mrs =" in html
    assert "distinct1_corpus" in html and "distinct1_per_request" in html
    assert "full / constant mrs =" in text  # the console table too


def test_the_scored_variant_ranks_by_the_models_likelihood():
    (v,) = resolve("smart-replies", ["scored"], None)
    assert v.policy.rank == "likelihood" and v.policy.use_model
    with pytest.raises(ConfigError, match="in-process runner"):
        resolve("smart-replies", ["scored"], None, http=True)
