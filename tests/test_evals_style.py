"""Style attribution: the PanzaMail loader, the k-fold split, the classifier, and
``persona eval style`` on three synthetic writers (tests/fixtures/panza)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.cli import eval_app
from evals.loaders import DataError
from evals.style import StyleClassifier, StyleEvaluator, StyleModels, mask_names
from evals.style_data import SENDER_NAMES, load_panza, split

PANZA = Path(__file__).parent / "fixtures" / "panza"
ENV = {"PERSONA_MODELS": '["fake/test"]', "PERSONA_EMBEDDING_MODEL": "hash",
       "PERSONA_LOAD_MODELS": "false"}


def test_panza_writers_are_the_file_stems_with_provenance():
    w = load_panza(PANZA)
    assert list(w.emails) == ["anna", "bruno", "carla"]
    assert all(len(rows) == 12 for rows in w.emails.values())
    assert "\r" not in w.emails["anna"][0]["email"]
    assert w.files["data"]["rows"] == 36 and w.files["bruno"]["rows"] == 12


def test_split_halves_for_the_classifier_and_folds_for_history():
    data = split(load_panza(PANZA), folds=3, seed=0)
    assert len(data.train) == len(data.test) == 18  # 6 + 6 per writer
    assert not {t for _, t in data.train} & {t for _, t in data.test}
    assert len(data.examples) == 18  # every held-out email is a prompt
    for ex in data.examples:
        history = data.dataset.histories[ex.user]
        writer = data.writer_of[ex.user]
        ids = {h["id"] for h in history}
        assert ex.id not in ids  # its own email is not in its history
        assert all(i.startswith(writer + "-") for i in ids)  # only the writer's emails
        assert len(history) == 10  # 12 minus the fold's 2 held-out emails
        msg = ex.request["message"]
        assert msg["body"] == msg["subject"] and ex.references[0].startswith(
            ("Hi all", "Dear", "hey"))
    limited = split(load_panza(PANZA), folds=3, limit=2, seed=0)
    assert len(limited.examples) == 6
    assert {e.id for e in limited.examples} <= {e.id for e in data.examples}


@pytest.mark.parametrize("name, text, fix", [
    ("a.jsonl", '{"email": "x"}\n', "field 'subject'"),
    ("a.jsonl", '{"email": " ", "subject": "s"}\n', "blank email"),
])
def test_panza_malformed_rows_name_file_line_field(tmp_path, name, text, fix):
    (tmp_path / name).write_text(text * 4)
    (tmp_path / "b.jsonl").write_text('{"email": "e", "subject": "s"}\n' * 4)
    with pytest.raises(DataError, match=fix) as exc:
        load_panza(tmp_path)
    assert "a.jsonl:1" in str(exc.value)


def test_panza_needs_two_writers(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"email": "e", "subject": "s"}\n' * 4)
    with pytest.raises(DataError, match="fewer than two"):
        load_panza(tmp_path)
    with pytest.raises(DataError, match="not a directory"):
        load_panza(tmp_path / "a.jsonl")


def test_classifier_tells_synthetic_writers_apart_without_their_names():
    data = split(load_panza(PANZA), folds=3, seed=0)
    models = StyleModels.train(data)
    assert models.accuracy["masked"]["overall"]["rate"] == 1.0
    assert models.accuracy["masked"]["overall"]["n"] == 18
    assert set(models.accuracy["masked"]["per_writer"]) == {"anna", "bruno", "carla"}
    # style, not names: a formal line signed by another writer is still Bruno's
    got = models.masked.predict(["I would kindly ask you to review it. Sincerely, Anna",
                                 "hey can u ping me lol thx"])
    assert got == ["bruno", "carla"]
    assert mask_names("Cheers,\nAnna (anna@x)", ["anna"]) == "Cheers,\nNAME (NAME@x)"
    # the sender every request comes from is masked too: greeting it is no one's style
    assert models.masked.mask == ["anna", "bruno", "carla", *SENDER_NAMES]
    assert models.masked.probability(["Dear Jordan Quinn, sure."], "anna") == \
        models.masked.probability(["Dear NAME NAME, sure."], "anna")


def test_style_evaluator_attributes_served_suggestions_to_the_request_writer():
    data = split(load_panza(PANZA), folds=3, seed=0)
    ev = StyleEvaluator(StyleModels.train(data), data.writer_of)
    ex = next(e for e in data.examples if data.writer_of[e.user] == "carla")
    mine = {"suggestions": [{"text": "hey ok lol"}, {"text": "thx, ping me when ur free"}]}
    other = {"suggestions": [{"text": "Dear colleagues, I shall review it. Sincerely"}]}
    assert ev.primary_metric == "attributed"
    s = ev.score(ex, mine, 1.0)
    assert s["attributed"] == 1.0 and s["attributed_unmasked"] == 1.0
    assert s["p_writer"] > 1 / 3 and "mrs" in s
    assert ev.score(ex, other, 1.0)["attributed"] == 0.0
    assert ev.score(ex, None, 1.0)["attributed"] is None


def test_classifier_refuses_to_predict_before_fit():
    with pytest.raises(Exception, match="fitted|fit"):
        StyleClassifier().predict(["x"])


def test_style_eval_runs_the_real_pipeline_personalized_vs_plain(tmp_path, fake):
    out = tmp_path / "style"
    res = CliRunner().invoke(eval_app, ["style", "--data", str(PANZA), "--out", str(out),
                                        "--folds", "3", "--limit", "3"], env=ENV)
    assert res.exit_code == 0, res.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "style" and m["primary_metric"] == "attributed"
    assert list(m["variants"]) == ["full", "plain"]
    assert m["variants"]["plain"]["policy"]["personalize"] is False
    style = m["style"]
    assert style["classifier"]["accuracy"]["masked"]["overall"]["rate"] == 1.0
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    for writer in ("anna", "bruno", "carla"):
        row = style["writers"][writer]
        assert row["rates"]["full"]["n"] == row["rates"]["plain"]["n"] == 3
        assert row["diff"]["plain"]["n"] == 3
        for v in ("full", "plain"):
            mine = [r for r in results if r["variant"] == v and r["id"].startswith(writer)]
            assert row["rates"][v]["k"] == sum(r["scores"]["attributed"] for r in mine)
            # full reads the writer's history (their sign-off is applied); plain does not
            assert all(r["response"]["personalized"] is (v == "full") for r in mine)
        diff = row["rates"]["plain"]["rate"] - row["rates"]["full"]["rate"]
        assert row["diff"]["plain"]["diff"] == pytest.approx(diff)
        for v in ("full", "plain"):
            mine = [r["scores"]["p_writer"] for r in results
                    if r["variant"] == v and r["id"].startswith(writer)]
            assert row["p_writer"][v] == pytest.approx(sum(mine) / len(mine))
        assert row["p_writer_diff"]["plain"]["diff"] == pytest.approx(
            row["p_writer"]["plain"] - row["p_writer"]["full"])
    # Bruno's sign-off and greeting make every personalized request his
    assert style["writers"]["bruno"]["rates"]["full"]["rate"] == 1.0
    # history went in per (writer, fold): 12 - 4 = 8 emails each
    assert m["data"]["files"]["data"]["rows"] == 36
    md = (out / "report.md").read_text()
    assert "## Style attribution per writer" in md and "## Style classifier" in md
    assert "## Probability the classifier gives the writer" in md
    assert "| anna | 1.00 [" in md
    html = (out / "report.html").read_text()
    assert "Style attribution per writer" in html and "full attributed" in html
    run = json.loads((out / "run.json").read_text())
    assert run["task"] == "style" and run["folds"] == 3


@pytest.mark.parametrize("overrides, served", [(None, True), ("style", False)])
def test_a_writers_folds_never_form_a_tenant_crowd_in_the_style_eval(
        tmp_path, fake, monkeypatch, overrides, served):
    """A style run's users are one person per writer, once per fold; the tenant response
    set would count them as distinct users and serve the writer's own short replies to
    every request, the "plain" baseline included. The style run's gateway has it off."""
    import asyncio

    from evals.style_data import STYLE_SETTINGS
    from evals.targets import InProcessTarget, in_process_settings
    from gateway.usecases.replies.shared import tenant_responses

    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    line = "Works for me, best, Isabel"
    settings = in_process_settings(None, tmp_path / "scratch",
                                   STYLE_SETTINGS if overrides == "style" else None)
    target = InProcessTarget(settings)

    async def go():
        await target.start()
        try:
            for f in range(5):  # isabel-k5f0 .. f4: the same person's history, five times
                await target.add_history(f"isabel-k5f{f}", [
                    {"id": "m1", "kind": "sent_reply", "context": "Does Tuesday work?",
                     "text": line}])
            return tenant_responses(target.services, target.tenant_id)
        finally:
            await target.close()

    shared = asyncio.run(go())
    assert any("Isabel" in r.text for r in shared) is served
