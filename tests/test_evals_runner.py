"""The eval runner: resumable results, history once per author, CLI gate, reports."""

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from evals_fixtures import FakeTarget, fake_usecase, write_aeslc, write_tsv
from typer.testing import CliRunner

from evals.cli import eval_app
from evals.loaders import load_dataset
from evals.runner import ResultStore, check_manifest, rescore_stale, run_all
from evals.scoring import SCORE_VERSION, Evaluator
from evals.variants import resolve
from gateway.core.errors import ConfigError

TESTS = Path(__file__).parent
ENV = {"PERSONA_MODELS": '["fake/test"]', "PERSONA_EMBEDDING_MODEL": "hash",
       "PERSONA_LOAD_MODELS": "false"}


def _run(tmp_path, target, variants=("full", "rules"), task="smart-replies", data=None):
    data = data or write_tsv(tmp_path / "pairs.tsv")
    ds = load_dataset(task, data)
    store = ResultStore(tmp_path / "out" / "results.jsonl")

    async def make(_cfg):
        return target

    try:
        stats, _ = asyncio.run(run_all(task=task, dataset=ds, examples=ds.examples,
                                       variants=resolve(task, list(variants), None),
                                       make_target=make, evaluator=Evaluator(task), store=store,
                                       concurrency=2))
    finally:
        store.close()
    return ds, stats


CRASHING_RUN = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from gateway.core.offline import offline_env
offline_env()
from evals_fixtures import FakeTarget
from evals.loaders import load_dataset
from evals.runner import ResultStore, run_all
from evals.scoring import SCORE_VERSION, Evaluator
from evals.variants import resolve
ds = load_dataset("smart-replies", Path({data!r}))
store = ResultStore(Path({out!r}) / "results.jsonl")
target = FakeTarget(die_at=8)
async def make(cfg):
    return target
asyncio.run(run_all(task="smart-replies", dataset=ds, examples=ds.examples,
                    variants=resolve("smart-replies", ["full", "rules"], None), make_target=make,
                    evaluator=Evaluator("smart-replies"), store=store, concurrency=1))
"""


def test_crash_mid_run_then_resume_redoes_nothing_and_loses_nothing(tmp_path):
    data = write_tsv(tmp_path / "pairs.tsv")  # 6 examples x 2 variants = 12 results
    out = tmp_path / "out"
    out.mkdir()
    script = CRASHING_RUN.format(tests=str(TESTS), data=str(data), out=str(out))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 3, proc.stderr  # died hard on its 8th request
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 7  # the 7 finished before the crash are all on disk
    before = {(json.loads(x)["variant"], json.loads(x)["id"]) for x in lines}

    target = FakeTarget()
    _run(tmp_path, target)
    redone = set(target.calls)
    assert redone.isdisjoint(before)  # nothing done twice
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    keys = [(r["variant"], r["id"]) for r in records]
    assert len(keys) == len(set(keys)) == 12  # nothing lost, nothing duplicated
    assert set(keys) == before | redone


def test_torn_last_line_is_cut_and_failed_examples_are_retried(tmp_path):
    _run(tmp_path, FakeTarget(fail_ids={"pairs-2"}), variants=("full",))
    path = tmp_path / "out" / "results.jsonl"
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    failed = [r for r in recs if r["error"]]
    assert [r["id"] for r in failed] == ["pairs-2"] and "boom" in failed[0]["error"]
    assert failed[0]["scores"]["error"] == 1.0
    with open(path, "a") as f:
        f.write('{"variant": "full", "id": "pair')  # crash mid-write

    target = FakeTarget()
    _run(tmp_path, target, variants=("full",))
    assert target.calls == [("full", "pairs-2")]  # only the failed one again
    store = ResultStore(path)
    assert all(r["error"] is None for r in store.records.values()) and len(store.records) == 6
    store.close()


def test_history_ingested_once_per_author_not_per_example(tmp_path):
    dev = write_aeslc(tmp_path)
    target = FakeTarget()
    ds, stats = _run(tmp_path, target, variants=("personalized", "plain"), task="subject-lines",
                     data=dev)
    assert len(ds.examples) == 2  # both by alice
    assert target.history_calls == ["alice-a"]
    assert stats.ran == {"personalized": 2, "plain": 2}


def test_results_of_an_older_harness_are_rescored_from_saved_responses(tmp_path):
    dev = write_aeslc(tmp_path)
    target = FakeTarget()
    ds, _ = _run(tmp_path, target, variants=("personalized",), task="subject-lines", data=dev)
    path = tmp_path / "out" / "results.jsonl"
    # Rewrite the file as a version-1 harness left it: no "scored" mark, no rouge*_alt.
    old = [json.loads(x) for x in path.read_text().splitlines()]
    for rec in old:
        rec.pop("scored")
        rec["scores"] = {k: v for k, v in rec["scores"].items() if not k.endswith("_alt")}
    path.write_text("".join(json.dumps(r) + "\n" for r in old))

    store = ResultStore(path)
    variants = resolve("subject-lines", ["personalized"], None)
    n = rescore_stale(examples=ds.examples, variants=variants,
                      evaluator=Evaluator("subject-lines"), store=store)
    assert n == 2
    assert rescore_stale(examples=ds.examples, variants=variants,
                         evaluator=Evaluator("subject-lines"), store=store) == 0
    store.close()
    reloaded = ResultStore(path)
    for rec in old:
        new = reloaded.records[(rec["variant"], rec["id"])]
        assert new["response"] == rec["response"]  # nothing generated again
        assert new["scores"]["latency_ms"] == rec["scores"]["latency_ms"]
        assert new["scores"]["rouge1"] == rec["scores"]["rouge1"]
        assert 0.0 <= new["scores"]["rouge1_alt"] <= 1.0 and new["scored"] == SCORE_VERSION
    reloaded.close()


def test_manifest_refuses_to_mix_runs(tmp_path):
    check_manifest(tmp_path, {"task": "smart-replies", "data_sha256": "a", "seed": 0})
    check_manifest(tmp_path, {"task": "smart-replies", "data_sha256": "a", "seed": 0})
    with pytest.raises(ConfigError, match="fresh --out"):
        check_manifest(tmp_path, {"task": "smart-replies", "data_sha256": "b", "seed": 0})


@pytest.fixture
def cli(monkeypatch):
    """The real CLI, in-process runner and services, with a fake use case behind them."""
    import evals.targets

    monkeypatch.setattr(evals.targets, "_usecase", fake_usecase)
    runner = CliRunner()

    def invoke(*args):
        res = runner.invoke(eval_app, list(args), env=ENV)
        return res.exit_code, res.output

    return invoke


def test_cli_gate_exit_codes(cli, tmp_path):
    data = write_tsv(tmp_path / "pairs.tsv")
    code, out = cli("smart-replies", "--data", str(data), "--out", str(tmp_path / "a"),
                    "--fail-under", "mrs=0.01", "--fail-over", "error_rate=0")
    assert code == 0, out
    code, out = cli("smart-replies", "--data", str(data), "--out", str(tmp_path / "b"),
                    "--fail-under", "mrs=0.99")
    assert code == 1 and "FAIL --fail-under mrs=0.99" in out and "below the minimum" in out
    code, out = cli("smart-replies", "--data", str(data), "--out", str(tmp_path / "b"),
                    "--fail-over", "fallback_rate=0.5", "--variant", "rules")
    assert code == 1 and "above the maximum 0.5" in out
    code, out = cli("smart-replies", "--data", str(data), "--out", str(tmp_path / "b"),
                    "--fail-under", "mrss=0.1")
    assert code == 1 and "'mrss' was not measured" in out
    code, out = cli("smart-replies", "--data", str(data), "--out", str(tmp_path / "c"),
                    "--fail-under", "mrs")
    assert code == 2 and "METRIC=NUMBER" in out
    assert not (tmp_path / "c").exists()  # rejected before any work


def test_cli_bad_data_and_bad_variant_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("ok\tfine\nno tab here\n")
    code, out = cli("smart-replies", "--data", str(bad), "--out", str(tmp_path / "o"))
    assert code == 2 and "bad.tsv:2" in out and "'reply'" in out
    code, out = cli("smart-replies", "--data", str(bad), "--out", str(tmp_path / "o"),
                    "--variant", "turbo")
    assert code == 2 and "unknown variant 'turbo'" in out
    code, out = cli("subject-lines", "--data", str(bad), "--out", str(tmp_path / "o"),
                    "--url", "http://127.0.0.1:9", "--api-key", "k", "--variant", "rules")
    assert code == 2 and "in-process runner" in out


class _SvgFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.svg_in: list[str] = []
        self.paths = 0
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure":
            self.stack.append(a.get("id", ""))
        if tag == "svg" and self.stack:
            self.svg_in.append(self.stack[-1])
        if tag == "path":
            self.paths += 1
        if tag in ("script", "link", "img") and any(
                str(v).startswith(("http", "//")) for v in a.values()):
            self.external.append(tag)

    def handle_endtag(self, tag):
        if tag == "figure" and self.stack:
            self.stack.pop()


def test_reports_are_written_with_provenance_and_inline_plots(cli, tmp_path):
    dev = write_aeslc(tmp_path)
    out = tmp_path / "rep"
    code, text = cli("subject-lines", "--data", str(dev), "--out", str(out),
                     "--variant", "personalized", "--variant", "rules", "--seed", "7")
    assert code == 0, text
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "subject-lines" and m["primary_metric"] == "rouge1" and m["seed"] == 7
    assert m["data"]["files"]["data"]["sha256"] == hashlib.sha256(dev.read_bytes()).hexdigest()
    assert m["data"]["files"]["history"]["path"].endswith("train.jsonl")
    assert set(m["git"]) == {"revision", "dirty"}
    v = m["variants"]["personalized"]
    assert v["models_served"] == ["fake/test"] and "subject_line_v2" in v["prompt_versions"]
    assert v["settings"]["models"] == ["fake/test"]
    assert v["metrics"]["examples"] == 2
    assert "rouge1" in m["comparisons"]["rules"]
    assert m["comparisons"]["rules"]["rouge1"]["n"] == 2
    # the author's history went into the scratch store once (10 train emails)
    from embeddings.embedder import HashEmbedder
    from embeddings.history import HistoryService
    from gateway.auth import get_or_create_tenant
    from gateway.core.db import Database
    from tests.keys import keyring

    db = Database(out / "scratch" / "default" / "persona.sqlite3")
    master = (out / "scratch" / "default" / "master.key").read_text()  # the scratch store's own
    hs = HistoryService(db=db, embedder=HashEmbedder(), keys=keyring(db, master),
                        index_dir=out / "scratch" / "default" / "index")
    hs.open()
    assert hs.count(get_or_create_tenant(db, "eval"), "alice-a") == 10
    hs.close()
    db.close()

    md = (out / "report.md").read_text()
    assert "| rouge1 ↑ |" in md and "## Best examples" in md and "alice-a_sent_10" in md
    html = (out / "report.html").read_text()
    finder = _SvgFinder()
    finder.feed(html)
    assert "plot-metrics" in finder.svg_in and "plot-latency" in finder.svg_in
    assert finder.paths > 20 and finder.external == []
    assert "alice-a_sent_100" in html and "Gas contract 100" in html
    assert "## Timing: run of" in md and "personalized:" in md

    # Rerunning the finished command redoes nothing and rewrites the same reports.
    code, text = cli("subject-lines", "--data", str(dev), "--out", str(out),
                     "--variant", "personalized", "--variant", "rules", "--seed", "7")
    assert code == 0, text
    runs = [json.loads(x) for x in (out / "timings.jsonl").read_text().splitlines()]
    assert len(runs) == 2 and runs[1]["ran"] == {}
    assert runs[1]["skipped_done"] == {"personalized": 2, "rules": 2}
    again = json.loads((out / "metrics.json").read_text())
    assert again["variants"]["personalized"]["metrics"] == v["metrics"]
    assert len(again["invocations"]) == 2


def _chromium() -> str:
    path = os.environ.get("PERSONA_TEST_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("Chromium is needed to render the HTML report: 'make test' installs Debian's "
                    "chromium, or set PERSONA_TEST_CHROMIUM to a Chromium binary")
    return path


@pytest.mark.browser
def test_html_report_renders_its_plots_in_a_headless_browser(cli, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    dev = write_aeslc(tmp_path)
    out = tmp_path / "rep"
    code, text = cli("subject-lines", "--data", str(dev), "--out", str(out),
                     "--variant", "personalized", "--variant", "rules")
    assert code == 0, text
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests, errors = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto((out / "report.html").as_uri())
            for figure in ("#plot-metrics", "#plot-latency"):
                fig = page.locator(figure)
                assert fig.is_visible(), figure
                box = page.locator(f"{figure} svg").bounding_box()
                assert box and box["width"] > 300 and box["height"] > 150, (figure, box)
                drawn = page.evaluate(
                    """sel => [...document.querySelectorAll(sel + ' svg path, ' + sel + ' svg rect')]
                       .filter(e => { const r = e.getBoundingClientRect();
                                      return r.width > 0 && r.height > 0; }).length""", figure)
                assert drawn > 5, (figure, drawn)
                # Pixels, not just elements: the plot's screenshot has ink of several colours.
                png = tmp_path / f"{figure[1:]}.png"
                fig.screenshot(path=str(png))
                rgb = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
                ink = float((rgb.min(axis=1) < 200).mean())
                assert ink > 0.01, (figure, ink)
                assert len(np.unique(rgb, axis=0)) > 20, figure
            assert errors == []
            assert requests == [(out / "report.html").as_uri()]  # self-contained: nothing fetched
        finally:
            browser.close()
