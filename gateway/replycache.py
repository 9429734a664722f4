"""The per-user smart-reply cache: the same request gets the same suggestions on every
device and replica.

An entry is keyed by tenant, user, the user's *history version*, and a digest of what
decides the answer (the message and thread, ``n``, ``max_chars``, ``explain``, the
prompt version and the model chain). Changing the user's history or preferences, or
forgetting the user, bumps the version, so no older entry is reachable again (they
expire). A request reads the version before it computes and stores under that one: a
change that lands meanwhile makes its entry unreachable, never stale.

``ReplyCache`` keeps entries in this process (an LRU); ``RedisReplyCache`` in Redis,
shared by the replicas. A cache that cannot be read is a miss; a version that cannot
be bumped is an error (a stale answer would outlive the change).

Entries are sealed with the user's data key (``gateway.core.keyring``), so Redis
(its memory, RDB snapshots, AOF) never holds a user's suggestions in plaintext; an
entry whose key is gone reads as a miss. ``forget`` also deletes the user's entries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict

from gateway.core.errors import GatewayError, NotReady
from gateway.core.keyring import Keyring, sealed_token

log = logging.getLogger(__name__)

_MAX_ENTRIES = 10_000  # in-process entries kept (least recently used go first)
# Replicas' clocks differ: an index line is pruned this long after its entry expired.
_CLOCK_SLACK_S = 60
TENANT_WIDE = "*"  # not a valid user id (embeddings.items.check_user_id)


def request_digest(parts: dict) -> str:
    """A stable digest of what decides a response (JSON, sorted keys)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class ReplyCache:
    """Entries and history versions in this process; ``ttl_s`` 0 = off."""

    def __init__(self, ttl_s: float, *, keys: Keyring):
        self.ttl_s = ttl_s
        self.keys = keys
        self._entries: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
        self._versions: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def version(self, tenant_id: int, user_id: str) -> int:
        with self._lock:
            return self._versions.get((tenant_id, user_id), 0)

    def bump(self, tenant_id: int, user_id: str) -> None:
        """The user's history or preferences changed: no entry before this is served."""
        with self._lock:
            key = (tenant_id, user_id)
            self._versions[key] = self._versions.get(key, 0) + 1
            for k in [k for k in self._entries if k[:2] == key]:
                del self._entries[k]

    def forget(self, tenant_id: int, user_id: str) -> None:
        """The user is forgotten: bump their version and delete their entries."""
        self.bump(tenant_id, user_id)

    def versions(self, tenant_id: int, user_id: str) -> tuple[int, int]:
        """The user's version and the tenant's: the version of what every user of the
        tenant is answered from (its response set), part of each entry's digest and
        kept as the version of a user id no user can have. Read together (one round
        trip in Redis)."""
        with self._lock:
            return (self._versions.get((tenant_id, user_id), 0),
                    self._versions.get((tenant_id, TENANT_WIDE), 0))

    def bump_tenant(self, tenant_id: int) -> None:
        """A user stopped counting towards the tenant's response set (forgotten, opted
        out): no answer of the tenant's computed before is served, on any replica."""
        self.bump(tenant_id, TENANT_WIDE)

    def _seal(self, tenant_id: int, user_id: str, value: dict) -> str:
        return self.keys.writer(tenant_id, user_id).seal_text(json.dumps(value))

    def _open(self, tenant_id: int, user_id: str, raw: str | bytes) -> dict | None:
        raw = raw.decode() if isinstance(raw, bytes) else raw
        if sealed_token(raw) is None:
            return None  # written before entries were sealed: a miss
        try:
            return json.loads(self.keys.open_text(tenant_id, user_id, raw))
        except GatewayError:  # sealed under a destroyed key: the user was forgotten
            return None

    def get(self, tenant_id: int, user_id: str, version: int, digest: str) -> dict | None:
        key = (tenant_id, user_id, version, digest)
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            if hit[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return self._open(tenant_id, user_id, hit[1])

    def put(self, tenant_id: int, user_id: str, version: int, digest: str, value: dict) -> None:
        sealed = self._seal(tenant_id, user_id, value)
        with self._lock:
            self._entries[(tenant_id, user_id, version, digest)] = (
                time.monotonic() + self.ttl_s, sealed)
            while len(self._entries) > _MAX_ENTRIES:
                self._entries.popitem(last=False)


class RedisReplyCache(ReplyCache):
    """Entries (``SET … EX ttl``) and versions (``INCR``) in Redis, shared by replicas;
    each user's entry keys are listed in a per-user index (``reply-keys:``, a sorted
    set) so ``forget`` deletes them without scanning the keyspace."""

    def __init__(self, ttl_s: float, *, keys: Keyring, client, prefix: str = "persona:"):
        super().__init__(ttl_s, keys=keys)
        self._client = client
        self._prefix = prefix

    def _vkey(self, tenant_id: int, user_id: str) -> str:
        return f"{self._prefix}history-version:{tenant_id}:{user_id}"

    def _ekey(self, tenant_id: int, user_id: str, version: int, digest: str) -> str:
        return f"{self._prefix}replies:{tenant_id}:{user_id}:{version}:{digest}"

    def _ikey(self, tenant_id: int, user_id: str) -> str:
        """The user's index: a sorted set of their entry keys, scored by expiry time."""
        return f"{self._prefix}reply-keys:{tenant_id}:{user_id}"

    def version(self, tenant_id: int, user_id: str) -> int:
        from redis.exceptions import RedisError

        try:
            return int(self._client.get(self._vkey(tenant_id, user_id)) or 0)
        except RedisError as exc:
            raise _unreachable(exc) from exc

    def versions(self, tenant_id: int, user_id: str) -> tuple[int, int]:
        from redis.exceptions import RedisError

        try:
            user, tenant = self._client.mget(self._vkey(tenant_id, user_id),
                                             self._vkey(tenant_id, TENANT_WIDE))
        except RedisError as exc:
            raise _unreachable(exc) from exc
        return int(user or 0), int(tenant or 0)

    def bump(self, tenant_id: int, user_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            self._client.incr(self._vkey(tenant_id, user_id))
        except RedisError as exc:
            raise _unreachable(exc) from exc

    def get(self, tenant_id: int, user_id: str, version: int, digest: str) -> dict | None:
        from redis.exceptions import RedisError

        try:
            raw = self._client.get(self._ekey(tenant_id, user_id, version, digest))
        except RedisError as exc:
            log.warning("smart-reply cache unreadable (%s): computing the answer", exc)
            return None
        return None if raw is None else self._open(tenant_id, user_id, raw)

    def put(self, tenant_id: int, user_id: str, version: int, digest: str, value: dict) -> None:
        """The entry and its line in the user's index, in one transaction: an entry
        Redis holds is always one ``forget`` finds. Lines of expired entries are
        pruned here, so an active user's index holds only live entries."""
        from redis.exceptions import RedisError

        sealed = self._seal(tenant_id, user_id, value)
        ttl = max(1, int(self.ttl_s))
        entry = self._ekey(tenant_id, user_id, version, digest)
        index = self._ikey(tenant_id, user_id)
        now = time.time()
        try:
            with self._client.pipeline(transaction=True) as p:
                p.set(entry, sealed, ex=ttl)
                p.zadd(index, {entry: now + ttl})  # scored by when the entry expires
                p.zremrangebyscore(index, "-inf", now - _CLOCK_SLACK_S)
                p.expire(index, ttl + _CLOCK_SLACK_S)
                p.execute()
        except RedisError as exc:
            log.warning("smart-reply cache unwritable (%s): answer not cached", exc)

    def forget(self, tenant_id: int, user_id: str) -> None:
        """Bump the version, then delete the entries the user's index names (work in
        the number of that user's entries, not in the size of the keyspace: no SCAN).

        An entry written while this runs is either deleted here or stays listed for the
        next forget; it is unreachable anyway (stored under the version read before the
        bump). Entries written before entries were indexed have no line and are left
        to expire: like every entry they were stored with ``SET … EX`` (gone within the
        TTL they were written with), under a version the bump made unreachable, and
        sealed with the user's data key, which ``gateway.usecases.forget.forget_user``
        destroys before calling this, so nothing can read them (``_open`` turns the
        destroyed key into a miss). Only the cache's first, pre-sealing entries were
        plaintext; they are gone within one TTL of that version's last write."""
        from redis.exceptions import RedisError

        self.bump(tenant_id, user_id)
        index = self._ikey(tenant_id, user_id)
        try:
            stale = self._client.zrange(index, 0, -1)
            if stale:
                with self._client.pipeline(transaction=True) as p:
                    p.delete(*stale)
                    p.zrem(index, *stale)  # the index goes with its last line
                    p.execute()
        except RedisError as exc:  # unreachable after the bump: sealed, and key destroyed
            log.warning("cached replies of a forgotten user not deleted (%s); they are "
                        "sealed under the destroyed key and expire within the TTL", exc)


def _unreachable(exc: Exception) -> NotReady:
    return NotReady(f"the user's history version at PERSONA_REDIS_URL cannot be reached "
                    f"({type(exc).__name__}); start Redis there or unset PERSONA_REDIS_URL")


class TenantSets:
    """Per-tenant values recomputed after a time to live (the tenant response set of
    ``gateway.usecases.replies.shared``), in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[int, tuple[float, object]] = {}

    def get(self, tenant_id: int, ttl_s: float, compute):
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(tenant_id)
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]
        value = compute()
        with self._lock:
            self._values[tenant_id] = (now, value)
        return value

    def drop(self, tenant_id: int) -> None:
        """Recount at the next request (a contributor was forgotten or opted out)."""
        with self._lock:
            self._values.pop(tenant_id, None)
