"""The per-user smart-reply cache: the same request from the same user gets the same
suggestions (any device, any replica) until the user's history or preferences change.
Every test runs with the cache in this process and in Redis."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import create_key
from gateway.core.settings import Settings
from tests.conftest import wait_ready
from tests.keys import MASTER_KEYS
from tests.smart_reply_helpers import SAM, add_replies, body


def _settings(path, redis_url: str, **kw) -> Settings:
    return Settings(data_dir=path, models=["fake/test"], embedding_model="hash",
                    load_models=False, rate_limit_per_minute=0, llm_timeout_s=5.0,
                    redis_url=redis_url, **kw)


@pytest.fixture(params=["in-process", "redis"])
def shared(request) -> str:
    """The cache's home: '' (this process) or a Redis URL."""
    return request.getfixturevalue("redis_url") if request.param == "redis" else ""


@pytest.fixture
def gw(tmp_path, fake, shared):
    with TestClient(create_app(_settings(tmp_path / "data", shared))) as c:
        wait_ready(c)
        yield c


@pytest.fixture
def h(gw) -> dict:
    return {"Authorization": f"Bearer {create_key(gw.app.state.services.db, tenant='acme', scope='admin')}"}


def ask(client, headers, **kw) -> dict:
    r = client.post("/v1/smart-replies", json=body(**kw), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def texts(data: dict) -> list[str]:
    return [s["text"] for s in data["suggestions"]]


def test_the_same_request_gets_the_same_suggestions_without_a_model_call(gw, h, fake):
    first = ask(gw, h)
    calls = len(fake.calls)
    assert calls > 0 and first["model"] == "fake/test"
    second = ask(gw, h)
    assert len(fake.calls) == calls  # served from the cache
    assert texts(second) == texts(first)
    assert {k: v for k, v in second.items() if k not in ("request_id", "latency_ms")} == {
        k: v for k, v in first.items() if k not in ("request_id", "latency_ms")}
    assert second["request_id"] != first["request_id"]
    # The cached answer is recorded under its own request id: feedback on it works.
    fb = {"request_id": second["request_id"], "index": 0, "event": "shown"}
    assert gw.post("/v1/feedback", headers=h, json=fb).status_code == 202


def test_a_different_message_or_n_is_computed(gw, h, fake):
    ask(gw, h)
    calls = len(fake.calls)
    ask(gw, h, n=2)
    assert len(fake.calls) > calls
    calls = len(fake.calls)
    ask(gw, h, message={"from": "bob@example.com", "subject": "Lunch",
                        "body": "Are you free for lunch tomorrow?"})
    assert len(fake.calls) > calls


@pytest.mark.parametrize("change", ["history", "preferences", "forget", "feedback"])
def test_a_change_to_the_user_drops_their_cached_answers(gw, h, fake, change):
    first = ask(gw, h)
    calls = len(fake.calls)
    if change == "history":
        add_replies(gw, h, "u1", SAM)
    elif change == "preferences":
        r = gw.put("/v1/users/u1/preferences", headers=h, json={"signature": "Cheers, Sam"})
        assert r.status_code == 200, r.text
    elif change == "forget":
        assert gw.delete("/v1/users/u1", headers=h).status_code == 204
    else:  # a sent suggestion becomes a history item
        fb = {"request_id": first["request_id"], "index": 0, "event": "sent"}
        assert gw.post("/v1/feedback", headers=h, json=fb).status_code == 202
    ask(gw, h)
    assert len(fake.calls) > calls  # computed again


def test_never_shared_across_users(gw, h, fake):
    ask(gw, h)
    calls = len(fake.calls)
    ask(gw, h, user_id="u2")
    assert len(fake.calls) > calls


def test_never_shared_across_tenants(gw, h, fake):
    other = {"Authorization": f"Bearer {create_key(gw.app.state.services.db, tenant='globex')}"}
    ask(gw, h)
    calls = len(fake.calls)
    ask(gw, other)  # same user id, same message, another tenant
    assert len(fake.calls) > calls


def test_a_timed_out_answer_is_not_cached(gw, h, fake):
    # 1.5 s, not less: on a loaded machine the embedding may miss a shorter budget, and
    # the answer would then be "overloaded", not the timeout this test is about.
    fake.enqueue("Friday works for me.", delay_s=30.0)
    assert ask(gw, h, deadline_ms=1500)["fallback_reason"] == "timeout"
    calls = len(fake.calls)
    again = ask(gw, h, deadline_ms=1500)
    assert len(fake.calls) > calls and again["model"] == "fake/test"


def test_a_model_error_is_not_cached(gw, h, fake):
    fake.error = RuntimeError("connection refused")
    assert ask(gw, h)["fallback_reason"] == "llm_error"
    fake.error = None
    calls = len(fake.calls)
    again = ask(gw, h)
    assert len(fake.calls) > calls and again["fallback_reason"] != "llm_error"


def test_zero_ttl_turns_the_cache_off(tmp_path, fake):
    with TestClient(create_app(_settings(tmp_path / "d", "", reply_cache_ttl_s=0))) as c:
        wait_ready(c)
        hh = {"Authorization": f"Bearer {create_key(c.app.state.services.db, tenant='acme')}"}
        ask(c, hh)
        calls = len(fake.calls)
        ask(c, hh)
        assert len(fake.calls) > calls


def test_two_replicas_serve_the_same_suggestions_and_drop_them_together(tmp_path, fake,
                                                                          redis_url, postgres):
    # One shared database, as replicas have: entries are sealed with the user's data
    # key, which lives there (two separate stores could not open each other's entries).
    with postgres.database() as url:
        shared_db = {"database_url": url, "master_keys": MASTER_KEYS}
        with (TestClient(create_app(_settings(tmp_path / "a", redis_url, **shared_db))) as a,
              TestClient(create_app(_settings(tmp_path / "b", redis_url, **shared_db))) as b):
            wait_ready(a)
            wait_ready(b)
            _two_replicas_share_answers(a, b, fake)


def _two_replicas_share_answers(a, b, fake) -> None:
    ha = {"Authorization": f"Bearer {create_key(a.app.state.services.db, tenant='acme')}"}
    hb = {"Authorization": f"Bearer {create_key(b.app.state.services.db, tenant='acme')}"}
    web = ask(a, ha)
    calls = len(fake.calls)
    mobile = ask(b, hb)
    assert texts(mobile) == texts(web) and len(fake.calls) == calls
    add_replies(a, ha, "u1", SAM)  # through replica a ...
    ask(b, hb)
    assert len(fake.calls) > calls  # ... and replica b computes again


def test_a_cached_answer_is_explained_under_its_own_request_id(gw, h, fake):
    first = ask(gw, h)
    second = ask(gw, h)
    why = gw.get(f"/v1/requests/{second['request_id']}", headers=h)
    assert why.status_code == 200, why.text
    data = why.json()
    assert data["request_id"] == second["request_id"]
    assert [s["text"] for s in data["served"]] == texts(first)


# ---- Redis: forget deletes a user's entries through their index, never by SCAN ------

@pytest.fixture
def rgw(gw):
    """The gateway with its cache in Redis (tests below parametrize ``shared``)."""
    return gw


@pytest.fixture
def rh(h) -> dict:
    return h


REDIS_ONLY = pytest.mark.parametrize("shared", ["redis"], indirect=True)


def _redis(client):
    return client.app.state.services.redis


def _scans(r) -> int:
    return int(r.info("commandstats").get("cmdstat_scan", {}).get("calls", 0))


def _entries(r, user_id: str) -> set[bytes]:
    return set(r.keys(f"persona:replies:*:{user_id}:*"))


@REDIS_ONLY
def test_forget_deletes_the_users_redis_entries_and_index_without_a_scan(rgw, rh):
    r = _redis(rgw)
    ask(rgw, rh)
    ask(rgw, rh, n=2)  # two entries for u1
    ask(rgw, rh, user_id="u2")
    mine, theirs = _entries(r, "u1"), _entries(r, "u2")
    assert len(mine) == 2 and len(theirs) == 1
    (index,) = r.keys("persona:reply-keys:*:u1")
    assert set(r.zrange(index, 0, -1)) == mine  # every entry is listed in the user's index
    scans = _scans(r)
    assert rgw.delete("/v1/users/u1", headers=rh).status_code == 204
    assert _scans(r) == scans  # no SCAN: work in u1's entries, not in the keyspace
    assert not r.exists(*mine) and not r.exists(index)
    assert _entries(r, "u2") == theirs and r.keys("persona:reply-keys:*:u2")


@REDIS_ONLY
def test_an_active_users_index_drops_lines_of_expired_entries(rgw, rh):
    r = _redis(rgw)
    ask(rgw, rh)
    (index,) = r.keys("persona:reply-keys:*:u1")
    gone = b"persona:replies:1:u1:0:expired-long-ago"
    r.zadd(index, {gone: 1.0})  # its entry expired in 1970
    ask(rgw, rh, n=2)  # the next write prunes it
    assert gone not in r.zrange(index, 0, -1)
    assert set(r.zrange(index, 0, -1)) == _entries(r, "u1")
    assert r.ttl(index) > 0


@REDIS_ONLY
def test_an_unindexed_entry_left_by_forget_is_unreadable_and_expires(rgw, rh):
    """An entry from before the index (plain SET … EX, no line): forget leaves it, but it
    is sealed under the destroyed key, under a version no reader asks for, and expires."""
    r, cache = _redis(rgw), rgw.app.state.services.reply_cache
    ask(rgw, rh)
    (entry,) = _entries(r, "u1")
    legacy = entry.decode().rsplit(":", 1)[0] + ":legacy-digest"
    r.set(legacy, r.get(entry), ex=3600)
    tenant_id, version = int(legacy.split(":")[2]), int(legacy.split(":")[4])
    assert cache.get(tenant_id, "u1", version, "legacy-digest") is not None  # readable now
    assert rgw.delete("/v1/users/u1", headers=rh).status_code == 204
    assert r.exists(legacy) and 0 < r.ttl(legacy) <= 3600
    assert cache.version(tenant_id, "u1") > version
    assert cache.get(tenant_id, "u1", version, "legacy-digest") is None  # key destroyed
