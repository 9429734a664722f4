"""Hosted models (issue #14): a litellm Router from a config file, checked at start-up;
hosted calls with their own concurrency limit; n candidates from one request; and a
slow or failing upstream under concurrency that still gets every request its answer
(from rules) instead of a hang or an error. Outcomes only, through an OpenAI-compatible
server on a loopback port; speed is in benchmarks/."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.auth import create_key
from gateway.cli import app as cli
from gateway.core.settings import Settings
from gateway.llm import LLMClient
from gateway.llm.router import RouterConfigError, load_router_config
from gateway.usecases.replies import generate
from tests.conftest import wait_ready
from tests.smart_reply_helpers import body
from tests.upstream import REPLIES, Upstream

MSGS = [{"role": "user", "content": "Can we meet Friday?"}]


@pytest.fixture
def upstream():
    with Upstream() as up:
        yield up


def router_file(tmp_path, base: str, **router_settings) -> str:
    cfg = {"model_list": [{"model_name": "smart",
                           "litellm_params": {"model": "openai/gpt-test", "api_base": base,
                                              "api_key": "os.environ/TEST_UPSTREAM_KEY",
                                              "timeout": 30}}],
           "router_settings": {"num_retries": 0, **router_settings}}
    path = tmp_path / "router.json"
    path.write_text(json.dumps(cfg))
    return path


def gateway(tmp_path, cfg, **extra) -> TestClient:
    settings = Settings(data_dir=tmp_path / "data", models=["smart"], router_config=cfg,
                        embedding_model="hash", load_models=False, rate_limit_per_minute=0,
                        llm_timeout_s=30, llm_retries=0, **extra)
    return TestClient(create_app(settings))


def ask_concurrently(c: TestClient, n: int, deadline_ms: int, *, then=None) -> list:
    """One request first (litellm's first call in a process sets itself up for about a
    second), then ``then()``, then ``n`` requests at once."""
    key = create_key(c.app.state.services.db, tenant="acme", scope="admin")
    auth = {"Authorization": f"Bearer {key}"}
    c.post("/v1/smart-replies", json=body(), headers=auth)
    if then is not None:
        then()
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: c.post(
            "/v1/smart-replies", json=body(user_id=f"u{i}", deadline_ms=deadline_ms),
            headers=auth), range(n)))


# --- several candidates in one round trip

def test_a_hosted_model_gives_every_candidate_from_one_request(tmp_path, upstream, monkeypatch):
    monkeypatch.setenv("TEST_UPSTREAM_KEY", "sk-from-env")
    with gateway(tmp_path, router_file(tmp_path, upstream.base), smart_reply_samples=3) as c:
        wait_ready(c)
        key = create_key(c.app.state.services.db, tenant="acme", scope="admin")
        r = c.post("/v1/smart-replies", json=body(), headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert len(upstream.bodies) == 1  # one round trip for all three samples
    assert upstream.bodies[0]["n"] == 3 and upstream.bodies[0]["model"] == "gpt-test"
    assert upstream.auth == ["Bearer sk-from-env"]  # the key came from the environment
    data = r.json()
    assert data["model"] == "smart" and data["fallback_reason"] == "no_history"
    llm = {s["text"] for s in data["suggestions"] if s["source"] == "llm"}
    assert len(llm) >= 2 and llm <= set(REPLIES)


def test_in_process_models_keep_one_sample_after_another(fake):
    client = LLMClient(["fake/a"], retries=0)
    assert not client.supports_n("fake/a") and client.in_process("fake/a")
    fake.enqueue(*REPLIES)
    got = asyncio.run(generate.sample(client, MSGS, samples=3,
                                      deadline=time.monotonic() + 30))
    assert [t for t, _ in got.texts] == list(REPLIES) and got.calls == 3
    assert all("n" not in c["params"] for c in fake.calls)


def test_a_hosted_model_without_n_is_sampled_in_parallel(upstream, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client = LLMClient(["openai/x"], retries=0, hosted_concurrency=8)
    monkeypatch.setattr(client, "supports_n", lambda model: False)  # e.g. Ollama, Anthropic
    monkeypatch.setenv("OPENAI_BASE_URL", upstream.base)
    monkeypatch.setenv("OPENAI_API_BASE", upstream.base)
    got = asyncio.run(generate.sample(client, MSGS, samples=3,
                                      deadline=time.monotonic() + 30))
    assert len(upstream.bodies) == 3 and all("n" not in b for b in upstream.bodies)
    assert sorted(b["temperature"] for b in upstream.bodies) == sorted(
        generate.TEMPERATURES[:3])
    assert len(got.texts) == 3 and got.error is None


def test_hosted_calls_have_their_own_slots(fake):
    """The embedded model's single slot does not bound hosted calls, nor the reverse."""
    client = LLMClient(["fake/a"], concurrency=1, hosted_concurrency=32)
    assert client._slots_for("local/m").size == 1
    assert client._slots_for("openai/x").size == 32
    assert LLMClient(["fake/a"], concurrency=2)._slots_for("openai/x").size == 2


# --- a slow or failing upstream under concurrency

def test_a_stalled_upstream_under_concurrency_answers_every_request_from_rules(
        tmp_path, upstream, monkeypatch):
    monkeypatch.setenv("TEST_UPSTREAM_KEY", "sk-test")
    # No smart-reply cache: the first answer (before the stall) would serve the repeats.
    with gateway(tmp_path, router_file(tmp_path, upstream.base), reply_cache_ttl_s=0) as c:
        wait_ready(c)
        answers = ask_concurrently(c, 20, deadline_ms=4000,
                                   then=lambda: setattr(upstream, "mode", "trickle"))
    assert len(answers) == 20
    for r in answers:
        assert r.status_code == 200, r.text
        data = r.json()
        # "overloaded": on a busy machine the pool answered from rules before the model
        # call; either way the answer is the rules', in time.
        assert data["fallback_reason"] in ("timeout", "overloaded") and data["model"] is None
        assert data["suggestions"] and {s["source"] for s in data["suggestions"]} == {"rules"}
    assert len(upstream.bodies) > 1  # the stalled upstream was really called
    # every stalled call was cut off: the gateway closed each connection it opened
    end = time.monotonic() + 10
    while upstream.hung_up_count < len(upstream.bodies) - 1 and time.monotonic() < end:
        time.sleep(0.05)
    assert upstream.hung_up_count == len(upstream.bodies) - 1


def test_a_failing_upstream_under_concurrency_answers_every_request_from_rules(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_UPSTREAM_KEY", "sk-test")
    with Upstream("fail") as up, gateway(tmp_path, router_file(tmp_path, up.base)) as c:
        wait_ready(c)
        answers = ask_concurrently(c, 20, deadline_ms=4000)
    for r in answers:
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["fallback_reason"] == "llm_error" and data["model"] is None
        assert data["suggestions"] and {s["source"] for s in data["suggestions"]} == {"rules"}


def test_past_the_hosted_limit_calls_are_shed_to_rules(tmp_path, upstream, monkeypatch):
    monkeypatch.setenv("TEST_UPSTREAM_KEY", "sk-test")
    upstream.mode = "trickle"
    with gateway(tmp_path, router_file(tmp_path, upstream.base),
                 hosted_llm_concurrency=2) as c:
        wait_ready(c)
        answers = ask_concurrently(c, 20, deadline_ms=4000)
    reasons = set()
    for r in answers:
        assert r.status_code == 200, r.text
        assert {s["source"] for s in r.json()["suggestions"]} == {"rules"}
        reasons.add(r.json()["fallback_reason"])
    assert reasons <= {"timeout", "overloaded"}
    assert len(upstream.bodies) < 21  # at most a couple in flight at a time, not 21


# --- the router config file

def write(tmp_path, text: str, name: str = "router.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
model_list:
  - model_name: smart
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: os.environ/OPENAI_KEY
  - model_name: azure-gpt
    litellm_params:
      model: azure/my-deployment
      api_base: https://example.openai.azure.com
      api_version: "2024-06-01"
      api_key: os.environ/AZURE_KEY
      rpm: 600
router_settings:
  fallbacks: [{smart: [azure-gpt]}]
  num_retries: 1
"""

ONE = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n"


def test_a_good_router_config_resolves_keys_from_the_environment(tmp_path):
    cfg = load_router_config(write(tmp_path, GOOD), models=["smart", "azure-gpt"],
                             env={"OPENAI_KEY": "sk-1", "AZURE_KEY": "az-2"})
    assert [e.litellm_params.api_key for e in cfg.model_list] == ["sk-1", "az-2"]
    assert cfg.deployment_model("azure-gpt") == "azure/my-deployment"
    assert cfg.router_settings.fallbacks == [{"smart": ["azure-gpt"]}]


@pytest.mark.parametrize(("text", "expect"), [
    (GOOD, ["model_list[1]", "'azure-gpt'", "litellm_params.api_key", "AZURE_KEY", "not set"]),
    ("model_list:\n  - model_name: a\n    litellm_params: {api_base: http://x}\n",
     ["model_list[0]", "'a'", "litellm_params.model", "Field required"]),
    ("model_list:\n  - model_name: a\n    litellm_params: {model: gpt-4o}\n",
     ["model_list[0]", "litellm_params.model", "openai/gpt-4o"]),
    ("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_key: sk-123}\n",
     ["model_list[0]", "litellm_params.api_key", "os.environ/"]),
    (ONE + "router_settings: {fallbacks: [{a: [b]}]}\n", ["fallbacks", "'b'", "no model_name"]),
    (ONE + "router_settings: {num_retrys: 2}\n", ["router_settings.num_retrys", "not permitted"]),
    ("model_list: []\n", ["model_list", "at least 1"]),
    ("model_list: [\n", ["not valid YAML"]),
])
def test_a_bad_router_config_names_the_entry(tmp_path, text, expect):
    with pytest.raises(RouterConfigError) as exc:
        load_router_config(write(tmp_path, text), env={"OPENAI_KEY": "sk-1"})
    for part in expect:
        assert part in exc.value.message


def test_the_model_chain_must_name_router_models(tmp_path):
    with pytest.raises(RouterConfigError, match="'smrt', which is no model_name"):
        load_router_config(write(tmp_path, GOOD), models=["smrt"],
                           env={"OPENAI_KEY": "k", "AZURE_KEY": "k"})


def test_bare_model_names_need_a_router_config(tmp_path):
    with pytest.raises(ValueError, match="no provider prefix"):
        Settings(data_dir=tmp_path, models=["smart"], load_models=False)
    s = Settings(data_dir=tmp_path, models=["smart"], load_models=False,
                 router_config=tmp_path / "r.yaml")
    assert s.models == ["smart"]


runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_serve_refuses_a_bad_router_config_before_starting(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PERSONA_MODELS", '["smart"]')
    monkeypatch.setenv("PERSONA_ROUTER_CONFIG", str(write(tmp_path, GOOD)))
    monkeypatch.delenv("AZURE_KEY", raising=False)
    monkeypatch.setenv("OPENAI_KEY", "sk-1")
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 2
    out = flat(result.output)
    assert "model_list[1] ('azure-gpt') litellm_params.api_key" in out and "AZURE_KEY" in out
    assert not (tmp_path / "data").exists()  # refused before touching the store


def test_serve_refuses_several_workers_on_sqlite_and_names_postgresql(tmp_path, monkeypatch):
    # Changed with issue #15: --workers N is allowed on PostgreSQL + Redis, so on SQLite
    # the refusal now names what to switch to instead of "not supported".
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PERSONA_DATABASE_URL", raising=False)
    result = runner.invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    out = flat(result.output)
    assert "--workers > 1 needs PostgreSQL" in out
    assert "PERSONA_DATABASE_URL=postgresql+psycopg://" in out and "persona db upgrade" in out
    assert "run one worker" in out and "PERSONA_HOSTED_LLM_CONCURRENCY" in out  # or instead
    assert not (tmp_path / "data").exists()


def test_serve_refuses_several_workers_on_postgresql_without_redis(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "data"))
    # Nothing listens there: the refusal comes before any connection.
    monkeypatch.setenv("PERSONA_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:1/persona")
    monkeypatch.delenv("PERSONA_REDIS_URL", raising=False)
    result = runner.invoke(cli, ["serve", "--workers", "3"])
    assert result.exit_code == 2
    out = flat(result.output)
    assert "needs PERSONA_REDIS_URL" in out and "reply cache" in out
    assert not (tmp_path / "data").exists()