"""Retrieval ranking with the real MiniLM embedder: paraphrases with no shared words."""

from __future__ import annotations

import pytest

from gateway.auth import get_or_create_tenant

pytestmark = pytest.mark.e2e

HISTORY = {
    "move": ("Sure, Friday afternoon works, let's shift it.", "Can we push our weekly sync?"),
    "paid": ("The invoice was settled last week.", "Any news on the March billing?"),
    "food": ("I'm allergic to peanuts, so no satay for me.", "Ordering Thai for the team."),
    "trip": ("Our flight lands at 6 in Lisbon.", "When are you getting in?"),
    "review": ("I'll go through the pull request tonight.",
               "The refactor PR is ready for review."),
}
QUERIES = {
    "Could we reschedule our call to another day?": "move",
    "Have you taken care of the bill yet?": "paid",
    "What should we order for lunch?": "food",
    "What time do you arrive on your trip?": "trip",
    "Can you look at my code changes?": "review",
}


def test_minilm_retrieval_ranks_the_paraphrase_first(e2e_client, e2e_auth):
    items = [{"id": k, "kind": "sent_reply", "text": t, "context": c}
             for k, (t, c) in HISTORY.items()]
    r = e2e_client.post("/v1/users/ranker/history", headers=e2e_auth, json={"items": items})
    assert r.status_code == 200, r.text
    services = e2e_client.app.state.services
    tenant = get_or_create_tenant(services.db, "e2e")
    for query, want in QUERIES.items():
        hits = services.history.retrieve(tenant, "ranker", query, k=3)
        assert hits[0].id == want, (query, [(h.id, round(h.score, 3)) for h in hits])
        assert hits[0].score > hits[1].score
