"""What the user's history says about this reply: similar past exchanges and style.

Retrieval asks the history index for the user's past ``sent_reply`` items nearest
the incoming message, then re-scores each by how close the message *it answered*
(``context``) is to this one — the dual-encoder view (Henderson et al. 2017): a
good reply is one the user gave to a similar message. The style profile is
measured over the user's recent replies. Nothing is read when personalization
is off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from embeddings.store import CONTEXT_CHARS
from gateway.usecases.replies.rules import Pair
from gateway.usecases.replies.style import StyleProfile, build_profile
from guardrails.emailtext import bare_reply

log = logging.getLogger(__name__)


@dataclass
class UserContext:
    pairs: list[Pair] = field(default_factory=list)  # most similar first
    profile: StyleProfile = field(default_factory=StyleProfile)
    voice: list[str] = field(default_factory=list)  # bare retrieved replies (for scoring)
    history_items: int = 0

    @property
    def has_history(self) -> bool:
        return self.history_items > 0


def load_user_context(services, *, tenant_id: int, user_id: str, query: str, vectors,
                      signature: str | None, k: int = 8, recent_limit: int = 50) -> UserContext:
    """``vectors`` (a request's ``Vectors``) must already hold the ``query`` vector.

    The vectors of the retrieved replies and of the messages they answered were
    stored at ingest; only an item without them (stored by another model, not yet
    filled in) is embedded here."""
    history = services.history
    recent = history.recent(tenant_id, user_id, kinds=["sent_reply"], limit=recent_limit)
    texts = [it.text for it in recent if it.text]
    ctx = UserContext(profile=build_profile(texts, signature=signature), history_items=len(texts))
    if not texts:
        return ctx
    message_vec = vectors.get(query)
    found = [r for r in history.retrieve(tenant_id, user_id, query, k=k, kinds=["sent_reply"],
                                         query_vec=message_vec, with_vectors=True)
             if r.text and r.text.strip()]
    reply_text = getattr(history, "reply_text", None)
    for r in found:
        # A stored reply vector is of ``history.reply_text(text)``; used only for that text.
        if r.reply_vec is not None and reply_text is not None:
            vectors.put(reply_text(r.text), r.reply_vec)
        if r.context_vec is not None:
            vectors.put(r.context[:CONTEXT_CHARS], r.context_vec)
    ctx.voice = [b for b in dict.fromkeys(bare_reply(r.text) for r in found) if b]
    contexts = [r.context[:CONTEXT_CHARS] for r in found if r.context and r.context.strip()]
    vectors.ensure(contexts + ctx.voice)  # one batch for whatever was not stored
    sims = {}
    for r in found:
        if r.context and r.context.strip():
            sims[r.id] = float(vectors.get(r.context[:CONTEXT_CHARS]) @ message_vec)
        else:  # no context stored: the index's own similarity, discounted
            sims[r.id] = float(r.score) * 0.8
    ctx.pairs = sorted((Pair(id=r.id, context=r.context or "", reply=r.text, similarity=sims[r.id])
                        for r in found), key=lambda p: -p.similarity)
    return ctx
