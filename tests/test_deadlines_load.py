"""Deadlines that hold under load (issue #12: 3, 6, 11b): a trickling upstream is cut
off at the deadline and frees its slot, CPU work stays off the event loop and is
served earliest deadline first, inputs that drive CPU are bounded, and a process
that cannot make a deadline sheds load (rules at once, or 503) instead of answering
late. Ordering and outcomes only; speed is in benchmarks/bench_deadline_load.py."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.core.errors import LLMOverloaded, LLMTimeout
from gateway.llm import LLMClient
from gateway.load import Late, WorkPool
from gateway.usecases.common import Deadline
from tests.conftest import wait_ready
from tests.fakes import FakeLLM
from tests.smart_reply_helpers import body
from tests.upstream import Upstream

MSGS = [{"role": "user", "content": "Can we meet Friday?"}]
SALE = "Our spring sale: 20% off all running shoes until April 30. Stride makes every run lighter."
@pytest.fixture
def upstream(monkeypatch):
    # the first request stalls (a byte every 0.2 s); later ones are answered at once
    with Upstream("trickle", trickle_first=1, replies=("Friday works.",)) as up:
        monkeypatch.setenv("OPENAI_BASE_URL", up.base)
        monkeypatch.setenv("OPENAI_API_BASE", up.base)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield up


def test_a_trickling_upstream_is_cut_off_and_its_slot_freed(upstream):
    # litellm's first call in a process imports and sets itself up (~4 s here): warm it
    # as the gateway's start-up does, or a test run on its own spends the deadline there.
    LLMClient.call_blocking("openai/x", MSGS, 60.0, {"max_tokens": 1, "mock_response": "ok"})
    client = LLMClient(["openai/x"], timeout_s=30, retries=0, concurrency=1)

    async def go():
        with pytest.raises(LLMTimeout):
            await client.complete(MSGS, deadline=time.monotonic() + 3)
        # the timed-out call really stopped reading: its connection was closed
        assert await asyncio.to_thread(upstream.hung_up.wait, 10)
        # the one slot is free again: the next call is served, not blocked
        return await client.complete(MSGS, deadline=time.monotonic() + 20)

    assert asyncio.run(go()).text == "Friday works."


def test_smart_replies_answer_from_rules_when_the_upstream_trickles(tmp_path, upstream):
    from gateway.auth import create_key
    from gateway.core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", models=["openai/x"], embedding_model="hash",
                        load_models=False, rate_limit_per_minute=0, llm_timeout_s=30,
                        llm_retries=0)
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        key = create_key(c.app.state.services.db, tenant="acme", scope="admin")
        # Long enough for litellm's first call to set itself up (~1 s, more on a busy
        # machine) and send the request: cut off before that, nothing reaches upstream.
        r = c.post("/v1/smart-replies", json=body(deadline_ms=3000),
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["fallback_reason"] == "timeout" and data["model"] is None
    assert data["suggestions"] and {s["source"] for s in data["suggestions"]} == {"rules"}
    assert upstream.hung_up.wait(10)


def test_calls_queued_past_their_deadline_are_shed_at_once(fake):
    client = LLMClient(["fake/a"], retries=0, concurrency=1)

    async def go():
        fake.enqueue("learn the pace", delay_s=0.3)
        await client.complete(MSGS)
        fake.enqueue("holds the slot", delay_s=0.3)
        first = asyncio.create_task(client.complete(MSGS))
        await asyncio.sleep(0)  # it now holds the only slot
        calls = len(fake.calls)
        with pytest.raises(LLMOverloaded):
            await client.complete(MSGS, deadline=time.monotonic() + 0.1)
        assert len(fake.calls) == calls  # shed without queueing or calling
        return await first

    assert asyncio.run(go()).text == "holds the slot"


def test_fake_llm_keeps_a_bounded_call_log():
    f = FakeLLM()
    for i in range(FakeLLM.MAX_CALLS + 50):
        f.next([{"role": "user", "content": str(i)}], {})
    assert len(f.calls) == FakeLLM.MAX_CALLS
    assert f.calls[-1]["messages"][0]["content"] == str(FakeLLM.MAX_CALLS + 49)


def test_work_pool_runs_the_earliest_deadline_first_and_drops_late_work():
    pool = WorkPool(1)
    gate = threading.Event()
    order: list[int] = []
    try:
        blocker = pool.submit(gate.wait, 10, due=0)
        futs = [pool.submit(order.append, due, due=due) for due in (3, 1, 2)]
        late = pool.submit(order.append, 99, due=0, start_by=time.monotonic() - 1)
        gate.set()
        blocker.result(10)
        for f in futs:
            f.result(10)
        with pytest.raises(Late):
            late.result(10)
    finally:
        pool.close()
    assert order == [1, 2, 3]  # and the late job never ran


def test_latency_counts_from_arrival(services, admin_key):
    from gateway.schemas.smart_replies import SmartReplyRequest
    from gateway.tables import Tenant
    from gateway.usecases.policy import RULES_ONLY
    from gateway.usecases.smart_replies import suggest_replies

    with services.db.session() as s:
        tenant_id = s.query(Tenant).filter_by(name="acme").one().id
    req = SmartReplyRequest.model_validate(body(deadline_ms=20_000))
    res = asyncio.run(suggest_replies(services=services, tenant_id=tenant_id, request=req,
                                      request_id="r-arrival", policy=RULES_ONLY,
                                      arrived=time.monotonic() - 2.0))
    assert res.latency_ms >= 2000
    assert Deadline.plan(1000, reserve_ms=100, start=5.0).at == pytest.approx(6.0)


def test_guardrails_stop_at_the_deadline_and_serve_nothing_unchecked():
    from gateway.usecases.replies.checks import make_context, run_checks
    from gateway.usecases.replies.select import Candidate
    from gateway.usecases.subjects.candidates import Candidate as Subject
    from gateway.usecases.subjects.checks import guard
    from gateway.usecases.subjects.constraints import Limits

    ctx = make_context(sources=["hi"], untrusted=[], max_chars=200, emoji_allowed=True,
                       language=None)
    cands = [Candidate(text="Sounds good.", bare="Sounds good.", source="rules", intent="yes",
                       prior=0.5)]
    past = time.monotonic() - 1
    assert run_checks(cands, ctx, metrics=None, tenant="t", stop_at=past) == []
    assert len(run_checks(cands, ctx, metrics=None, tenant="t")) == 1
    out = guard([Subject("Spring sale on running shoes", "body")], body=SALE, brand=None,
                limits=Limits(max_chars=60, emoji=False), metrics=None, tenant="t",
                stop_at=past)
    assert out.kept == []


@pytest.mark.parametrize(("patch", "field"), [
    ({"banned_words": [f"word{i}" for i in range(101)]}, "banned_words"),
    ({"banned_words": ["x" * 61]}, "banned_words.0"),
    ({"banned_words": ["ok", "y" * 201]}, "banned_words.1"),  # the schema's hard cap
])
def test_banned_words_are_bounded(client, auth, fake, patch, field):
    payload = {"campaign": {"body": SALE}, "n": 5, **patch}
    r = client.post("/v1/subject-lines", headers=auth, json=payload)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == field and field in err["message"]
    assert fake.calls == []


@pytest.mark.parametrize("thread", [
    [{"from": "a@example.com", "body": "earlier"}] * 21,
    [{"from": "a@example.com", "body": "x" * 15_000}] * 2,
])
def test_thread_is_bounded(client, auth, fake, thread):
    r = client.post("/v1/smart-replies", headers=auth, json=body(thread=thread))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "thread"
    assert fake.calls == []


def test_past_the_in_flight_bound_the_answer_is_503_with_retry_after(tmp_path, fake):
    from gateway.auth import create_key
    from gateway.core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", models=["fake/test"], embedding_model="hash",
                        load_models=False, rate_limit_per_minute=0, max_inflight_generations=1)
    fake.delay_s = 3.0
    with TestClient(create_app(settings)) as c:
        wait_ready(c)
        auth = {"Authorization": f"Bearer {create_key(c.app.state.services.db, tenant='a')}"}
        slow = threading.Thread(target=c.post, args=("/v1/smart-replies",),
                                kwargs={"json": body(deadline_ms=20_000), "headers": auth})
        slow.start()
        end = time.monotonic() + 20
        while not fake.calls and time.monotonic() < end:  # the first one is in flight
            time.sleep(0.01)
        r = c.post("/v1/subject-lines", headers=auth, json={"campaign": {"body": SALE}})
        fake.delay_s = 0.0
        slow.join(30)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["type"] == "overloaded"
    assert int(r.headers["retry-after"]) >= 1


def test_the_loop_answers_healthz_while_a_subject_line_request_is_checked(
        client, auth, fake, monkeypatch):
    from gateway.usecases import subject_lines

    real_guard = subject_lines.guard
    in_guard, healthz_done = threading.Event(), threading.Event()
    finished: list[str] = []
    waited: list[bool] = []

    def heavy_guard(*args, **kwargs):
        in_guard.set()
        # On the event loop this would hold /healthz back until the wait gave up.
        waited.append(healthz_done.wait(10))
        return real_guard(*args, **kwargs)

    monkeypatch.setattr(subject_lines, "guard", heavy_guard)

    def heavy():
        r = client.post("/v1/subject-lines", headers=auth,
                        json={"campaign": {"body": SALE}, "deadline_ms": 30_000})
        finished.append(f"subject-lines {r.status_code}")

    t = threading.Thread(target=heavy)
    t.start()
    assert in_guard.wait(20)
    r = client.get("/healthz")
    finished.append(f"healthz {r.status_code}")
    healthz_done.set()
    t.join(30)
    assert waited == [True]  # /healthz was answered while the guardrails ran
    assert finished == ["healthz 200", "subject-lines 200"]


# --- a busy or tight moment degrades to rules; 503 is only for the in-flight bound ----

def test_a_tight_subject_line_deadline_is_answered_from_rules_not_503(client, auth, fake):
    # deadline_ms=50 left the old plan's model deadline before its start (a 250 ms
    # reserve), so the history read was "late" at once and the answer a 503.
    r = client.post("/v1/subject-lines", headers=auth,
                    json={"campaign": {"body": SALE}, "user_id": "u1", "deadline_ms": 50})
    assert r.status_code == 200, r.text
    assert r.json()["subject_lines"]


def test_a_busy_pool_answers_smart_replies_from_rules_at_once(client, auth, fake, services,
                                                              monkeypatch):
    from tests.smart_reply_helpers import SAM, add_replies

    add_replies(client, auth, "u1", SAM)
    read: list[str] = []
    monkeypatch.setattr(services.history, "retrieve", lambda *a, **k: read.append("x") or [])
    monkeypatch.setattr(services.work, "expected_wait_s", lambda: 60.0, raising=False)
    r = client.post("/v1/smart-replies", headers=auth, json=body(n=5, deadline_ms=1500))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["fallback_reason"] == "overloaded" and data["model"] is None
    texts = [s["text"] for s in data["suggestions"]]
    assert len(set(texts)) == 5 and {s["source"] for s in data["suggestions"]} == {"rules"}
    assert all(s["checks"] for s in data["suggestions"])  # checked, never served raw
    assert fake.calls == [] and read == []  # neither the model nor the history


def test_the_pool_estimate_recovers_once_the_queue_drains():
    pool = WorkPool(1)
    gate = threading.Event()
    try:
        pool.submit(time.sleep, 0.02, due=0).result(10)  # the pace: one job's run time
        assert pool.expected_wait_s() == 0.0  # idle: nothing ahead
        blocker = pool.submit(gate.wait, 10, due=0)
        queued = [pool.submit(int, due=1) for _ in range(3)]
        assert pool.expected_wait_s() > 0.0
        gate.set()
        for f in [blocker, *queued]:
            f.result(10)
    finally:
        pool.close()
    assert pool.expected_wait_s() == 0.0  # never stuck refusing


def test_work_that_cannot_start_in_time_degrades_to_rules(client, auth, fake, monkeypatch):
    from gateway.usecases import smart_replies

    def late(*args, **kwargs):
        raise Late("could not start before the model deadline")

    monkeypatch.setattr(smart_replies, "_prepare", late)
    r = client.post("/v1/smart-replies", headers=auth, json=body(deadline_ms=1500))
    assert r.status_code == 200, r.text
    assert r.json()["fallback_reason"] == "overloaded"
    assert len(r.json()["suggestions"]) == 3


def test_checks_that_cannot_start_in_time_serve_the_rules_quickly(client, auth, fake,
                                                                   monkeypatch):
    from gateway.usecases import smart_replies

    real = smart_replies._choose
    calls: list[bool] = []

    def choose(*args, quick=False, **kwargs):
        calls.append(quick)
        if not quick:  # the full step (model candidates, embeddings) started too late
            raise Late("could not start before finish_by")
        return real(*args, quick=quick, **kwargs)

    monkeypatch.setattr(smart_replies, "_choose", choose)
    fake.enqueue("Friday at 3pm works.", "Friday is fine.", "Sure, Friday.")
    r = client.post("/v1/smart-replies", headers=auth, json=body(deadline_ms=1500))
    assert r.status_code == 200, r.text
    data = r.json()
    assert calls == [False, True]
    assert data["fallback_reason"] == "overloaded" and data["model"] is None
    assert len(data["suggestions"]) == 3
    assert {s["source"] for s in data["suggestions"]} == {"rules"}


def test_subject_line_checks_that_cannot_start_in_time_serve_rules(client, auth, fake,
                                                                    monkeypatch):
    from gateway.usecases import subject_lines

    real = subject_lines._finish

    def finish(*args, quick=False, **kwargs):
        if not quick:
            raise Late("could not start before finish_by")
        return real(*args, quick=quick, **kwargs)

    monkeypatch.setattr(subject_lines, "_finish", finish)
    fake.enqueue("Spring sale: 20% off running shoes")
    r = client.post("/v1/subject-lines", headers=auth,
                    json={"campaign": {"body": SALE}, "n": 5, "deadline_ms": 3000})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["fallback_reason"] == "overloaded" and data["model"] is None
    assert len(data["subject_lines"]) == 5


def test_subject_lines_embed_the_campaign_body_once(client, auth, fake, services, monkeypatch):
    client.post("/v1/users/bob/history", headers=auth, json={"items": [
        {"id": "o1", "kind": "subject_opened", "text": "Spring running shoes are here"}]})
    embedder = services.embedder
    real = embedder.embed
    seen: list[str] = []

    def embed(texts):
        seen.extend(texts)
        return real(texts)

    monkeypatch.setattr(embedder, "embed", embed)
    r = client.post("/v1/subject-lines", headers=auth,
                    json={"campaign": {"body": SALE}, "user_id": "bob", "deadline_ms": 30_000})
    assert r.status_code == 200, r.text
    assert r.json()["personalized"] is True
    assert seen.count(SALE) == 1  # retrieval's query vector is ranking's body vector


def test_rules_are_checked_while_the_model_runs_and_only_once(client, auth, fake, monkeypatch):
    """The rules' guardrails run in the work pool while the model is awaited (a hosted
    model's wait is idle CPU); after it, only the model's candidates are checked."""
    from gateway.usecases import smart_replies
    from gateway.usecases.replies import generate

    events: list[tuple[str, list[str]]] = []
    real_checks, real_sample = smart_replies.run_checks, generate.sample

    def checks(cands, ctx, **kwargs):
        events.append(("checks", [c.source for c in cands]))
        return real_checks(cands, ctx, **kwargs)

    async def sample(*args, **kwargs):
        got = await real_sample(*args, **kwargs)
        events.append(("model answered", []))
        return got

    monkeypatch.setattr(smart_replies, "run_checks", checks)
    monkeypatch.setattr(generate, "sample", sample)
    fake.enqueue("Friday at 3pm works for me.", delay_s=0.3)
    r = client.post("/v1/smart-replies", headers=auth, json=body(deadline_ms=3000))
    assert r.status_code == 200, r.text
    assert r.json()["fallback_reason"] in (None, "no_history", "outranked")
    first, answered = events[0], events.index(("model answered", []))
    assert first[0] == "checks" and set(first[1]) == {"rules"} and answered > 0
    after = [sources for name, sources in events[answered + 1:] if name == "checks"]
    assert after and set(after[0]) == {"llm"}  # the rules were not checked again


def test_a_model_failure_still_serves_the_prechecked_rules(client, auth, fake):
    fake.error = RuntimeError("upstream down")  # every sample fails
    r = client.post("/v1/smart-replies", headers=auth, json=body(deadline_ms=3000))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["fallback_reason"] == "llm_error"
    assert len(data["suggestions"]) == 3
    assert all(s["source"] == "rules" and s["checks"] for s in data["suggestions"])
