"""Ranking the response set: the general replies, the diversity rule, model likelihood."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from gateway.llm import LLMClient
from gateway.schemas.smart_replies import SmartReplyRequest
from gateway.usecases.policy import RULES_ONLY, GenerationPolicy
from gateway.usecases.replies.responses import GENERAL
from gateway.usecases.replies.rules import canned_candidates
from gateway.usecases.smart_replies import suggest_replies
from tests.smart_reply_helpers import body

REMARK = {"from": "Kim <kim@example.com>", "subject": "",
          "body": "That talk yesterday was really good."}


@pytest.fixture
def tenant_id(services, admin_key) -> int:
    from gateway.tables import Tenant

    with services.db.session() as s:
        return s.query(Tenant).filter_by(name="acme").one().id


def _run(services, tenant_id, policy, message=REMARK):
    req = SmartReplyRequest.model_validate(body(message))
    return asyncio.run(suggest_replies(services=services, tenant_id=tenant_id, request=req,
                                       request_id=uuid.uuid4().hex, policy=policy))


def _bare(text: str) -> str:
    return text.rstrip(".!?")


def test_a_remark_gets_the_general_response_set_and_a_scheduling_mail_does_not():
    remark = {c.text for c in canned_candidates(REMARK["body"])}
    # all of it but the apology, which a good talk gives no cause for
    assert {text for _, text, _ in GENERAL} - remark == {"I'm so sorry."}
    meeting = {c.text for c in canned_candidates("Can we move our meeting to Friday at 3pm?")}
    assert not meeting & {text for _, text, _ in GENERAL}


def test_rules_serve_one_reply_per_intent_from_the_larger_set(services, tenant_id, fake):
    res = _run(services, tenant_id, RULES_ONLY)
    intents = {text: ri for ri, text, _ in GENERAL}
    served = [s.text for s in res.suggestions]
    assert len(served) == 3
    general = [t for t in served if t in intents]
    assert general, served  # the general set competes for a remark
    assert len({intents[t] for t in general}) == len(general)  # never two of one intent


def test_likelihood_ranking_orders_by_the_models_scores(services, tenant_id, fake):
    # Through the real path: the fake provider's scorer, installed like the local model's.
    fake.scores = {"I have the same one.": -0.4, "I don't get it.": -0.6,
                   "I like it.": -0.8}
    policy = GenerationPolicy(rank="likelihood", model_slots=0)
    res = _run(services, tenant_id, policy)
    assert [s.text for s in res.suggestions] == ["I have the same one.", "I don't get it.",
                                                 "I like it."]
    assert fake.scored and "I like it." in fake.scored[0]
    # The same request ranked without the model's scores serves something else.
    fake.scores = {}
    plain = _run(services, tenant_id, GenerationPolicy(model_slots=0))
    assert [s.text for s in plain.suggestions] != [s.text for s in res.suggestions]


def test_likelihood_scores_reorder_the_model_samples_too(services, tenant_id, fake):
    fake.enqueue("Agreed, I learned a lot.", "Sorry, I missed it.", "Was it recorded?")
    # The model finds its third sample far likelier than anything else in the pool.
    fake.scores = {"Was it recorded?": -0.3}
    res = _run(services, tenant_id, GenerationPolicy(rank="likelihood", model_slots=1))
    assert res.suggestions[0].text == "Was it recorded?"
    assert res.suggestions[0].source == "llm"
    # Its samples are scored before the response set, whatever their prior.
    assert fake.scored[0][:3] == ["Agreed, I learned a lot.", "Sorry, I missed it.",
                                  "Was it recorded?"]


def test_model_slots_bound_how_many_model_candidates_go_first(services, tenant_id, fake):
    fake.enqueue("Agreed, I learned a lot.", "Sorry, I missed it.", "Was it recorded?")
    all_first = _run(services, tenant_id, GenerationPolicy(model_slots=None))
    assert [s.source for s in all_first.suggestions] == ["llm"] * 3
    fake.enqueue("Agreed, I learned a lot.", "Sorry, I missed it.", "Was it recorded?")
    none_first = _run(services, tenant_id, GenerationPolicy(model_slots=0))
    fake.enqueue("Agreed, I learned a lot.", "Sorry, I missed it.", "Was it recorded?")
    one_first = _run(services, tenant_id, GenerationPolicy(model_slots=1))
    assert sum(s.source == "llm" for s in one_first.suggestions) >= 1
    assert {s.text for s in none_first.suggestions} != {s.text for s in all_first.suggestions}
    # The default policy gives the model no slot of its own: all compete on score.
    fake.enqueue("Agreed, I learned a lot.", "Sorry, I missed it.", "Was it recorded?")
    default = _run(services, tenant_id, GenerationPolicy())
    assert [s.text for s in default.suggestions] == [s.text for s in none_first.suggestions]


def test_a_model_that_cannot_score_ranks_by_the_heuristic():
    client = LLMClient(["openai/gpt-test"])
    got = asyncio.run(client.score([{"role": "user", "content": "hi"}], ["Hello!"],
                                   deadline=time.monotonic() + 5))
    assert got is None


def test_an_unknown_rank_is_refused():
    with pytest.raises(ValueError, match="unknown rank"):
        GenerationPolicy(rank="vibes")


def test_model_replies_that_score_below_the_rules_are_outranked_not_failed(
        services, tenant_id, fake, monkeypatch):
    # A model trusted at nothing: its replies pass the guardrails but lose on score.
    monkeypatch.setattr(services.settings, "smart_reply_model_prior", 0.0)
    fake.enqueue("Agreed, I learned a lot.", "Sorry, I missed it.", "Was it recorded?")
    res = _run(services, tenant_id, GenerationPolicy())
    assert [s.source for s in res.suggestions] == ["rules"] * 3
    assert res.fallback_reason == "outranked"
    assert res.model is None
    # Trusted fully, the same replies win on score and are served.
    monkeypatch.setattr(services.settings, "smart_reply_model_prior", 1.0)
    fake.enqueue("Agreed, I learned a lot.", "Sorry, I missed it.", "Was it recorded?")
    res = _run(services, tenant_id, GenerationPolicy())
    assert "llm" in {s.source for s in res.suggestions}
    assert res.fallback_reason == "no_history"
