"""Per-tenant token bucket (in-process; one gateway process per data dir)."""

from __future__ import annotations

import math
import threading
import time

from gateway.errors import RateLimited


class RateLimiter:
    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, tenant_id: int) -> None:
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(tenant_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[tenant_id] = (tokens, now)
                retry = max(1, math.ceil((1.0 - tokens) / rate))
                raise RateLimited(
                    f"rate limit of {self.per_minute} requests/minute for this tenant reached; "
                    f"retry after {retry}s or raise PERSONA_RATE_LIMIT_PER_MINUTE",
                    retry_after_s=retry,
                )
            self._buckets[tenant_id] = (tokens - 1.0, now)
