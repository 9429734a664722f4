"""``persona experiments …`` on the local database: the same use cases as the API."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from gateway.core.settings import Settings
from gateway.services import build_services

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path):
    return {"PERSONA_DATA_DIR": str(tmp_path / "data"), "PERSONA_MODELS": '["fake/test"]',
            "PERSONA_EMBEDDING_MODEL": "hash", "PERSONA_LOAD_MODELS": "false"}


def _sim():
    spec = importlib.util.spec_from_file_location(
        "simulate_experiment", ROOT / "benchmarks" / "simulate_experiment.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_create_ramp_rollback_kill_switch_and_list(tmp_path):
    env = _env(tmp_path)
    assert runner.invoke(app, ["keys", "create", "--tenant", "acme"], env=env).exit_code == 0
    spec = tmp_path / "exp.json"
    spec.write_text(json.dumps({"name": "cli-exp", "task": "smart_replies",
                                "variants": [{"name": "fast", "overrides": {"samples": 1}}],
                                "allocation": {"fast": 1}}))
    res = runner.invoke(app, ["experiments", "create", str(spec), "--tenant", "acme"], env=env)
    assert res.exit_code == 0, res.output
    assert "cli-exp" in res.stdout and "1%" in res.stdout
    res = runner.invoke(app, ["experiments", "ramp", "cli-exp", "fast", "10", "--tenant", "acme"],
                        env=env)
    assert res.exit_code == 0 and "10%" in res.stdout, res.output
    res = runner.invoke(app, ["experiments", "rollback", "cli-exp", "--tenant", "acme"], env=env)
    assert res.exit_code == 0 and "yes" in res.stdout, res.output
    res = runner.invoke(app, ["experiments", "kill-switch", "subject_lines", "--tenant", "acme"],
                        env=env)
    assert res.exit_code == 0 and "rules only" in res.stdout
    res = runner.invoke(app, ["experiments", "ramp", "cli-exp", "control", "5", "--tenant",
                              "acme"], env=env)
    assert res.exit_code == 2 and "control takes" in res.output
    res = runner.invoke(app, ["experiments", "list", "--tenant", "nobody"], env=env)
    assert res.exit_code == 2 and "persona keys create" in res.output
    res = runner.invoke(app, ["experiments", "stop", "cli-exp", "--tenant", "acme"], env=env)
    assert res.exit_code == 0 and "stopped" in res.stdout


def test_results_and_report_of_a_simulated_experiment(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", models=["fake/test"],
                        embedding_model="hash", load_models=False)
    services = build_services(settings)
    try:
        from gateway.auth import get_or_create_tenant

        tid = get_or_create_tenant(services.db, "sim")
        _sim().simulate(services, tid, users=300, days=4, seed=3)
    finally:
        services.close()
    env = _env(tmp_path)
    res = runner.invoke(app, ["experiments", "results", "sim", "--tenant", "sim", "--json"],
                        env=env)
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["stopping"]["decision"] == "keep_waiting"  # 300 users: far from the horizon
    assert sum(got["exposures"].values()) == got["metrics"][0]["rates"]["control"]["trials"] + \
        got["metrics"][0]["rates"]["one-sample"]["trials"]
    assert not got["sample_ratio"]["mismatch"]
    res = runner.invoke(app, ["experiments", "results", "sim", "--tenant", "sim"], env=env)
    assert res.exit_code == 0 and "keep_waiting" in res.stdout
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["experiments", "report", "sim", "--tenant", "sim", "--out",
                              str(out)], env=env)
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert html.count("<svg") == 2 and "KEEP_WAITING" in html
