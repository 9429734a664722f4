"""Token buckets keyed by tenant or client address (in-process; one gateway process
per data dir)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Hashable

from gateway.core.errors import RateLimited

_PRUNE_ABOVE = 10_000  # buckets kept before full ones are dropped (many client addresses)


class RateLimiter:
    """``per_minute`` tokens a minute per key, bursting up to ``per_minute``; 0 = off.

    ``what`` and ``setting`` make the 429 message say what was limited and how to
    raise the limit."""

    def __init__(self, per_minute: int, *, what: str = "requests/minute for this tenant",
                 setting: str = "PERSONA_RATE_LIMIT_PER_MINUTE"):
        self.per_minute = per_minute
        self.what = what
        self.setting = setting
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: Hashable) -> None:
        """Take a token for ``key``, or raise ``RateLimited`` when none is left."""
        self._take(key, cost=1.0)

    def check(self, key: Hashable) -> None:
        """Raise ``RateLimited`` if ``key`` has no token left; takes none."""
        self._take(key, cost=0.0)

    def _take(self, key: Hashable, *, cost: float) -> None:
        if self.per_minute <= 0:
            return
        cap = float(self.per_minute)
        rate = cap / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (cap, now))
            tokens = min(cap, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                retry = max(1, math.ceil((1.0 - tokens) / rate))
                raise RateLimited(
                    f"rate limit of {self.per_minute} {self.what} reached; "
                    f"retry after {retry}s or raise {self.setting}",
                    retry_after_s=retry,
                )
            if cost:
                self._buckets[key] = (tokens - cost, now)
                if len(self._buckets) > _PRUNE_ABOVE:
                    self._prune(now, cap, rate)

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
