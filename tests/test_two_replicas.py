"""Two real ``persona serve`` replicas on one PostgreSQL + one Redis act as one gateway.

Each replica is a subprocess with its own data dir (its own FAISS cache of the shared
store) started the way ``make fleet`` starts them (benchmarks/fleet.py). The model is
a loopback OpenAI-compatible fake (tests/upstream.py) reached through litellm's
``openai/`` provider, since a subprocess cannot have the in-process ``fake/*`` model
installed; it answers at once and counts the calls it gets.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from benchmarks.fleet import free_port, start_replica
from gateway.auth import create_key
from gateway.core.db import Database
from gateway.schema import upgrade
from tests.keys import MASTER_KEYS
from tests.upstream import Upstream

pytestmark = pytest.mark.fleet

RATE = 12  # requests/minute per tenant, shared by the replicas
MESSAGE = {"from": "Bob <bob@example.com>", "subject": "Thursday",
           "body": "Can we move our Thursday meeting to Friday at 3pm?"}
# Both answered messages close to MESSAGE (a prompt example needs some similarity).
HISTORY = [{"id": "h-friday", "kind": "sent_reply", "text": "Friday at 3pm works, see you then.",
            "context": "Can we move our Thursday meeting to Friday at 3pm?"},
           {"id": "h-thursday", "kind": "sent_reply", "text": "Thursday is fine by me.",
            "context": "Can we move our Tuesday meeting to Thursday at 2pm?"}]


@pytest.fixture(scope="module")
def upstream():
    with Upstream() as up:
        yield up


@pytest.fixture(scope="module")
def shared(postgres, redis_server, upstream, tmp_path_factory):
    """One database (at the current schema, as `persona db upgrade` leaves it) + Redis,
    and the environment every replica of this module starts with."""
    import gateway.storage  # noqa: F401  (every table module)

    with postgres.database() as url:
        db = Database(url)
        upgrade(db)
        db.close()
        env = {**os.environ, "PERSONA_DATABASE_URL": url, "PERSONA_REDIS_URL": redis_server,
               "PERSONA_MASTER_KEYS": MASTER_KEYS,
               "PERSONA_MODELS": '["openai/fake"]', "PERSONA_EMBEDDING_MODEL": "hash",
               "PERSONA_LOAD_MODELS": "false", "PERSONA_RATE_LIMIT_PER_MINUTE": str(RATE),
               "PERSONA_LLM_RETRIES": "0", "PERSONA_LOG_LEVEL": "warning",
               "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": upstream.base,
               "OPENAI_API_BASE": upstream.base}
        yield {"url": url, "env": env, "root": tmp_path_factory.mktemp("replicas")}


@pytest.fixture(scope="module")
def fleet(shared):
    a = start_replica("a", free_port(), shared["env"], shared["root"] / "a")
    b = start_replica("b", free_port(), shared["env"], shared["root"] / "b")
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


def key_for(shared, tenant: str) -> dict:
    db = Database(shared["url"])
    try:
        return {"Authorization": f"Bearer {create_key(db, tenant=tenant, scope='admin')}"}
    finally:
        db.close()


def smart_reply(replica, headers, user: str) -> dict:
    r = httpx.post(replica.base + "/v1/smart-replies", headers=headers, timeout=30,
                   json={"user_id": user, "message": MESSAGE, "n": 2,
                         "deadline_ms": 30_000})  # a busy CI box; no timed assertion
    assert r.status_code == 200, r.text
    return r.json()


def all_ids(replica, headers, user: str) -> list[str]:
    ids, cursor = [], None
    with httpx.Client(base_url=replica.base, headers=headers, timeout=30) as c:
        while True:
            params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            r = c.get(f"/v1/users/{user}/history", params=params)
            assert r.status_code == 200, r.text
            ids += [i["id"] for i in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                return ids


def test_history_written_through_a_is_retrieved_through_b(fleet, shared):
    a, b = fleet
    h = key_for(shared, "written")
    friday, thursday = HISTORY
    assert httpx.post(b.base + "/v1/users/sam/history", headers=h,
                      json={"items": [thursday]}).status_code == 200
    # B has loaded (and cached) sam's index, with one item only, before A writes.
    first = smart_reply(b, h, "sam")
    assert first["context_ids"] == ["h-thursday"], first["fallback_reason"]
    r = httpx.post(a.base + "/v1/users/sam/history", headers=h, json={"items": [friday]})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    answer = smart_reply(b, h, "sam")  # the very next request, on the other replica
    assert answer["personalized"] is True
    assert answer["context_ids"][0] == "h-friday"  # the closest to the message
    assert sorted(all_ids(b, h, "sam")) == ["h-friday", "h-thursday"]


def test_a_user_forgotten_through_a_gets_nothing_through_b(fleet, shared, upstream):
    a, b = fleet
    h = key_for(shared, "forgotten")
    assert httpx.post(a.base + "/v1/users/ann/history", headers=h,
                      json={"items": HISTORY}).status_code == 200
    first = smart_reply(b, h, "ann")
    assert "h-friday" in first["context_ids"]
    calls = len(upstream.bodies)
    again = smart_reply(a, h, "ann")  # the shared reply cache: the same answer, no call
    assert [s["text"] for s in again["suggestions"]] == [s["text"] for s in first["suggestions"]]
    assert again["context_ids"] == first["context_ids"] and len(upstream.bodies) == calls

    assert httpx.delete(a.base + "/v1/users/ann", headers=h).status_code == 204
    after = smart_reply(b, h, "ann")  # B's FAISS cache and the reply cache both held ann
    assert after["context_ids"] == [] and after["personalized"] is False
    assert all_ids(b, h, "ann") == []


def test_the_rate_limit_is_shared_by_the_replicas(fleet, shared):
    a, b = fleet
    h = key_for(shared, "limited")
    codes = [httpx.get((a if i % 2 else b).base + "/v1/users/x/history", headers=h).status_code
             for i in range(RATE)]
    assert codes == [200] * RATE  # the burst, spread over both
    for replica in (a, b):
        r = httpx.get(replica.base + "/v1/users/x/history", headers=h)
        assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 60 // RATE


def test_sigkill_of_a_during_ingest_loses_no_acknowledged_item(fleet, shared):
    _, b = fleet
    h = key_for(shared, "killed")
    a2 = start_replica("a2", free_port(), {**shared["env"], "PERSONA_RATE_LIMIT_PER_MINUTE": "0"},
                       shared["root"] / "a2")
    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        n = 0
        with httpx.Client(base_url=a2.base, headers=h, timeout=10) as c:
            while not stop.is_set():
                batch = [{"id": f"k{n}-{j}", "kind": "sent_reply",
                          "text": f"batch {n} item {j} about topic{n % 7}"} for j in range(3)]
                try:
                    r = c.post("/v1/users/kim/history", json={"items": batch})
                except httpx.HTTPError:
                    return  # died mid-request: not acknowledged
                if 200 <= r.status_code < 300:
                    acked.extend(r.json()["ids"])
                n += 1

    try:
        a2.wait_ready()
        t = threading.Thread(target=writer)
        t.start()
        end = time.monotonic() + 120
        while len(acked) < 90 and time.monotonic() < end and t.is_alive():
            time.sleep(0.01)
        os.kill(a2.proc.pid, signal.SIGKILL)  # mid-stream: the writer is still sending
        a2.proc.wait(10)
        stop.set()
        t.join(15)
        assert len(acked) >= 30, "too few acknowledged writes before the kill to mean much"
        stored = all_ids(b, h, "kim")
        assert set(acked) <= set(stored)
        assert len(stored) == len(set(stored))
    finally:
        stop.set()
        a2.stop(signal.SIGKILL)


def test_serve_runs_several_workers_on_postgresql_and_redis(shared):
    import psutil

    w = start_replica("workers", free_port(), shared["env"], shared["root"] / "workers",
                      extra=["--workers", "2"])
    try:
        w.wait_ready()
        assert len(psutil.Process(w.proc.pid).children(recursive=True)) >= 2
        h = key_for(shared, "workers")
        for i in range(4):  # whichever worker answers, it sees the one store
            item = {"id": f"w{i}", "kind": "note", "text": f"note {i}"}
            assert httpx.post(w.base + "/v1/users/wu/history", headers=h,
                              json={"items": [item]}).status_code == 200
            assert all_ids(w, h, "wu") == [f"w{j}" for j in range(i + 1)]
    finally:
        w.stop()
