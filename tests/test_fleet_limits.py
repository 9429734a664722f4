"""Rate limits: the same behaviour in this process and in Redis (shared by replicas)."""

from __future__ import annotations

import threading

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import create_key, list_keys, revoke_key
from gateway.core.errors import NotReady, RateLimited
from gateway.core.settings import Settings
from gateway.ratelimit import RateLimiter, RedisRateLimiter
from tests.conftest import wait_ready


@pytest.fixture(params=["in-process", "redis"])
def make_limiter(request):
    """Builds limiters of one kind; Redis ones share one server (as replicas do)."""
    if request.param == "in-process":
        yield lambda per_minute, **kw: RateLimiter(per_minute, **kw)
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    yield lambda per_minute, **kw: RedisRateLimiter(per_minute, client=client, prefix="t:", **kw)
    client.close()


def test_burst_then_429_with_retry_after_of_one_token(make_limiter):
    limiter = make_limiter(2)
    limiter.hit("acme")
    limiter.hit("acme")
    with pytest.raises(RateLimited) as exc:
        limiter.hit("acme")
    # 2/minute: the next token is 30 s away (a few ms of refill may round it to 30 or 29).
    assert exc.value.retry_after_s in (29, 30)
    assert exc.value.headers["Retry-After"] == str(exc.value.retry_after_s)
    assert "PERSONA_RATE_LIMIT_PER_MINUTE" in exc.value.message
    limiter.hit("other")  # keys have their own buckets


def test_check_takes_no_token(make_limiter):
    limiter = make_limiter(1, what="failed authentications/minute", setting="X")
    for _ in range(5):
        limiter.check("10.0.0.1")
    limiter.hit("10.0.0.1")
    with pytest.raises(RateLimited) as exc:
        limiter.check("10.0.0.1")
    assert exc.value.retry_after_s in (59, 60)
    assert "failed authentications/minute" in exc.value.message


def test_zero_is_off(make_limiter):
    limiter = make_limiter(0)
    for _ in range(100):
        limiter.hit("acme")


def test_concurrent_hits_spend_each_token_once(make_limiter):
    limiter = make_limiter(50)
    granted, refused = [], []

    def worker():
        for _ in range(10):
            try:
                limiter.hit("acme")
                granted.append(1)
            except RateLimited:
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 100 hits within well under the 1.2 s a 51st token takes to refill.
    assert len(granted) in (50, 51) and len(granted) + len(refused) == 100


def test_two_redis_limiters_share_one_bucket(redis_url):
    a, b = (redis.Redis.from_url(redis_url) for _ in range(2))
    one = RedisRateLimiter(3, client=a, prefix="p:")
    two = RedisRateLimiter(3, client=b, prefix="p:")
    one.hit(7)
    two.hit(7)
    one.hit(7)
    with pytest.raises(RateLimited):
        two.hit(7)
    with pytest.raises(RateLimited):
        one.check(7)


def test_unreachable_redis_is_503_naming_the_setting():
    port_nobody_listens_on = 1
    client = redis.Redis(host="127.0.0.1", port=port_nobody_listens_on, socket_timeout=0.5,
                         socket_connect_timeout=0.5)
    limiter = RedisRateLimiter(5, client=client, prefix="p:")
    with pytest.raises(NotReady) as exc:
        limiter.hit("acme")
    assert exc.value.status_code == 503 and "PERSONA_REDIS_URL" in exc.value.message


def test_redis_url_must_name_a_redis_scheme(tmp_path):
    with pytest.raises(ValueError, match="redis://"):
        Settings(data_dir=tmp_path, redis_url="http://127.0.0.1:6379")


def _replica(tmp_path, name: str, redis_url: str, **kw) -> TestClient:
    s = Settings(data_dir=tmp_path / name, models=["fake/test"], embedding_model="hash",
                 load_models=False, redis_url=redis_url, llm_timeout_s=5.0,
                 **{"rate_limit_per_minute": 0, **kw})
    return TestClient(create_app(s))


def test_two_replicas_share_a_tenants_rate_limit(tmp_path, fake, redis_url):
    with (_replica(tmp_path, "a", redis_url, rate_limit_per_minute=3) as a,
          _replica(tmp_path, "b", redis_url, rate_limit_per_minute=3) as b):
        wait_ready(a)
        wait_ready(b)
        # Separate stores here: the same tenant made first in each has the same id, as
        # one shared database gives every replica.
        ha = {"Authorization": f"Bearer {create_key(a.app.state.services.db, tenant='acme')}"}
        hb = {"Authorization": f"Bearer {create_key(b.app.state.services.db, tenant='acme')}"}
        codes = [a.post("/v1/feedback", headers=ha, json={}).status_code,
                 b.post("/v1/feedback", headers=hb, json={}).status_code,
                 a.post("/v1/feedback", headers=ha, json={}).status_code]
        assert codes == [422, 422, 422]
        r = b.post("/v1/feedback", headers=hb, json={})
        assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limited"
        assert int(r.headers["Retry-After"]) in (19, 20)  # 3/minute: a token every 20 s


def test_without_redis_each_replica_limits_alone(tmp_path, fake):
    with (_replica(tmp_path, "a", "", rate_limit_per_minute=1) as a,
          _replica(tmp_path, "b", "", rate_limit_per_minute=1) as b):
        wait_ready(a)
        wait_ready(b)
        ha = {"Authorization": f"Bearer {create_key(a.app.state.services.db, tenant='acme')}"}
        hb = {"Authorization": f"Bearer {create_key(b.app.state.services.db, tenant='acme')}"}
        assert a.post("/v1/feedback", headers=ha, json={}).status_code == 422
        assert b.post("/v1/feedback", headers=hb, json={}).status_code == 422
        assert a.post("/v1/feedback", headers=ha, json={}).status_code == 429


def test_failed_authentications_are_counted_across_replicas(tmp_path, fake, redis_url):
    with (_replica(tmp_path, "a", redis_url, auth_failures_per_minute=2) as a,
          _replica(tmp_path, "b", redis_url, auth_failures_per_minute=2) as b):
        wait_ready(a)
        wait_ready(b)
        bad = {"Authorization": "Bearer pk_wrong"}
        assert a.post("/v1/feedback", headers=bad, json={}).status_code == 401
        assert b.post("/v1/feedback", headers=bad, json={}).status_code == 401
        r = a.post("/v1/feedback", headers=bad, json={})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_a_key_revoked_through_one_replica_is_refused_by_the_other(tmp_path, fake, redis_url):
    # Two replicas on one database (here one SQLite file; a fleet shares its database).
    # The key is looked up on every request, so no replica keeps a revoked key alive.
    with (_replica(tmp_path, "shared", redis_url) as a,
          _replica(tmp_path, "shared", redis_url) as b):
        wait_ready(a)
        wait_ready(b)
        db = a.app.state.services.db
        key = create_key(db, tenant="acme", scope="admin")
        h = {"Authorization": f"Bearer {key}"}
        assert b.get("/v1/users/u/history", headers=h).status_code == 200
        key_id = next(k.id for k in list_keys(db) if key.startswith(k.prefix))
        revoke_key(db, key_id)  # what 'persona keys revoke' does
        r = b.get("/v1/users/u/history", headers=h)
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
        assert a.get("/v1/users/u/history", headers=h).status_code == 401
