"""Subject lines on the real embedded models (MiniLM + SmolLM2), end to end."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

BODY = ("Our spring sale: 20% off all running shoes until April 30. "
        "Stride makes every run lighter.")


def test_real_models_serve_grounded_personalized_subject_lines(e2e_client, e2e_auth):
    r = e2e_client.post("/v1/users/sl-e2e/history", headers=e2e_auth, json={"items": [
        {"id": "o1", "kind": "subject_opened", "text": "New running shoes are in"},
        {"id": "i1", "kind": "subject_ignored", "text": "Garden furniture clearance"},
    ]})
    assert r.status_code == 200, r.text
    r = e2e_client.post("/v1/subject-lines", headers=e2e_auth, json={
        "user_id": "sl-e2e", "campaign": {"body": BODY, "brand": "Stride"},
        "n": 3, "max_chars": 50, "banned_words": ["free"], "deadline_ms": 15000})
    assert r.status_code == 200, r.text
    resp = r.json()
    lines = resp["subject_lines"]
    assert len(lines) == 3 and len({s["text"].lower() for s in lines}) == 3
    assert resp["personalized"] is True and "o1" in resp["context_ids"]
    assert resp["fallback_reason"] in (None, "timeout", "guardrail")
    for s in lines:
        assert 3 <= len(s["text"]) <= 50
        assert not re.search(r"\bfree\b", s["text"], re.IGNORECASE)
        # the only number a line may claim is one the campaign makes
        assert set(re.findall(r"\d+", s["text"])) <= {"20", "30"}, s["text"]
