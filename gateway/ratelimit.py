"""Token buckets keyed by tenant or client address.

``Limiter`` is the narrow interface (``hit`` / ``check``) and owns the 429 message; a
backend only says how long ``key`` must wait. ``RateLimiter`` keeps buckets in this
process (one gateway process, as without ``PERSONA_REDIS_URL``); ``RedisRateLimiter``
keeps them in Redis, taken atomically by one Lua script on Redis's clock, so every
replica spends from the same bucket and ``Retry-After`` is the same whichever answers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Hashable

from gateway.core.errors import NotReady, RateLimited

_PRUNE_ABOVE = 10_000  # buckets kept before full ones are dropped (many client addresses)


class Limiter:
    """``per_minute`` tokens a minute per key, bursting up to ``per_minute``; 0 = off.

    ``what`` and ``setting`` make the 429 message say what was limited and how to
    raise the limit."""

    def __init__(self, per_minute: int, *, what: str = "requests/minute for this tenant",
                 setting: str = "PERSONA_RATE_LIMIT_PER_MINUTE"):
        self.per_minute = per_minute
        self.what = what
        self.setting = setting

    def hit(self, key: Hashable) -> None:
        """Take a token for ``key``, or raise ``RateLimited`` when none is left."""
        self._limit(key, cost=1.0)

    def check(self, key: Hashable) -> None:
        """Raise ``RateLimited`` if ``key`` has no token left; takes none."""
        self._limit(key, cost=0.0)

    def _limit(self, key: Hashable, *, cost: float) -> None:
        if self.per_minute <= 0:
            return
        wait_s = self._take(key, cost=cost, cap=float(self.per_minute),
                            rate=self.per_minute / 60.0)
        if wait_s > 0:
            retry = max(1, math.ceil(wait_s))
            raise RateLimited(
                f"rate limit of {self.per_minute} {self.what} reached; "
                f"retry after {retry}s or raise {self.setting}",
                retry_after_s=retry,
            )

    def _take(self, key: Hashable, *, cost: float, cap: float, rate: float) -> float:
        """Take ``cost`` tokens if a whole one is left and return 0; else take none and
        return the seconds until one is (``rate`` tokens a second, at most ``cap``)."""
        raise NotImplementedError


class RateLimiter(Limiter):
    """Buckets in this process."""

    def __init__(self, per_minute: int, **kw):
        super().__init__(per_minute, **kw)
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _take(self, key: Hashable, *, cost: float, cap: float, rate: float) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (cap, now))
            tokens = min(cap, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / rate
            if cost:
                self._buckets[key] = (tokens - cost, now)
                if len(self._buckets) > _PRUNE_ABOVE:
                    self._prune(now, cap, rate)
        return 0.0

    def _prune(self, now: float, cap: float, rate: float) -> None:
        # A refilled bucket is the same as no bucket. If that frees too little (many
        # addresses at once), the longest-idle half goes: memory stays bounded and the
        # next prune is thousands of hits away.
        buckets = self._buckets
        for k in [k for k, (t, last) in buckets.items() if t + (now - last) * rate >= cap]:
            del buckets[k]
        if len(buckets) > _PRUNE_ABOVE // 2:
            by_age = sorted(buckets, key=lambda k: buckets[k][1])
            for k in by_age[: len(buckets) - _PRUNE_ABOVE // 2]:
                del buckets[k]


# One bucket per key: a hash {tokens, ts}. Redis's own clock (TIME), so replicas whose
# clocks differ still agree; the bucket expires once it would be full again (a full
# bucket is the same as none). Returns the wait as a string (Lua numbers become integers).
_TAKE = """
local cap, rate, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
if tokens < 1 then
  return tostring((1 - tokens) / rate)
end
if cost > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - cost), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((cap - tokens + cost) / rate * 1000) + 1000)
end
return '0'
"""


class RedisRateLimiter(Limiter):
    """Buckets in Redis, shared by every replica; keys are ``{prefix}{key}``."""

    def __init__(self, per_minute: int, *, client, prefix: str, **kw):
        super().__init__(per_minute, **kw)
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_TAKE)

    def _take(self, key: Hashable, *, cost: float, cap: float, rate: float) -> float:
        from redis.exceptions import RedisError

        try:
            wait = self._script(keys=[f"{self._prefix}{key}"], args=[cap, rate, cost])
        except RedisError as exc:
            raise NotReady(
                f"the shared rate limits at PERSONA_REDIS_URL cannot be reached "
                f"({type(exc).__name__}); start Redis there or unset PERSONA_REDIS_URL "
                "to keep limits in this process") from exc
        return float(wait)
