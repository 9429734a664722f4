"""The tenant's response set: short replies many of its users send.

Smart Reply's response set is mined from many users' replies; here per tenant, from
its users' ``sent_reply`` history. So that no one user's words surface for another,
a reply enters the set only when at least ``smart_reply_shared_min_users`` (k)
distinct users sent it (after normalizing case, spacing and end punctuation);
users who turned personalization off are not counted at all; a reply carrying
PII (an address, a phone or card number, a secret: ``guardrails.checks.pii``) never
enters. Only the tenant's own users are read. The set is recounted every
``smart_reply_shared_ttl_s`` seconds (``services.tenant_replies`` holds it), and at
once in this process when one of the tenant's users is forgotten or changes their
preferences (other replicas recount within the TTL; no cached answer of the tenant
is served after either, on any replica: ``ReplyCache.bump_tenant``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from gateway.tables import UserPreferences
from guardrails.checks.pii import find_pii
from guardrails.emailtext import bare_reply

MAX_WORDS = 8
MAX_CHARS = 400  # stored text, before greeting and sign-off are taken off
SCAN_LIMIT = 20_000  # most recent replies of the tenant counted
MAX_REPLIES = 40  # the most widely used replies kept per tenant


@dataclass(frozen=True)
class SharedReply:
    text: str
    users: int  # distinct users who sent it


def _key(text: str) -> str:
    return " ".join(text.lower().strip(" .!?").split())


def count_shared(rows: list[tuple[str, str]], *, min_users: int,
                 opted_out: set[str]) -> list[SharedReply]:
    """Replies sent by at least ``min_users`` distinct users (none of ``opted_out``),
    most widely used first, each in its most common spelling."""
    users: dict[str, set[str]] = defaultdict(set)
    spellings: dict[str, Counter] = defaultdict(Counter)
    for user_id, raw in rows:
        if user_id in opted_out:
            continue
        text = " ".join((bare_reply(raw) or "").split())
        key = _key(text)
        if not key or len(text.split()) > MAX_WORDS or "http" in key:
            continue
        users[key].add(user_id)
        spellings[key][text] += 1
    out = [SharedReply(text=spellings[k].most_common(1)[0][0], users=len(u))
           for k, u in users.items() if len(u) >= max(min_users, 1)]
    out = [r for r in out if not find_pii(r.text)]
    return sorted(out, key=lambda r: (-r.users, r.text))[:MAX_REPLIES]


def tenant_responses(services, tenant_id: int) -> list[SharedReply]:
    """The tenant's response set (empty when ``smart_reply_shared_min_users`` is 0)."""
    s = services.settings
    k = s.smart_reply_shared_min_users
    if k <= 0 or services.history is None:
        return []

    def compute() -> list[SharedReply]:
        with services.db.session() as session:
            opted_out = set(session.scalars(select(UserPreferences.user_id).where(
                UserPreferences.tenant_id == tenant_id,
                UserPreferences.personalization.is_(False))))
        rows = services.history.store.tenant_texts(tenant_id, kinds=["sent_reply"],
                                                   limit=SCAN_LIMIT, max_chars=MAX_CHARS)
        return count_shared(rows, min_users=k, opted_out=opted_out)

    return services.tenant_replies.get(tenant_id, s.smart_reply_shared_ttl_s, compute)
