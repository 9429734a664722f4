"""Smart replies through the HTTP app with the scripted fake model."""

from __future__ import annotations

import pytest

from tests.smart_reply_helpers import JANE, MEETING, SAM, add_replies, body


def post(client, auth, payload):
    return client.post("/v1/smart-replies", json=payload, headers=auth)


def test_ordinary_mail_gets_three_model_suggestions(client, auth, fake):
    fake.enqueue("Sure, here's a reply:\n\nFriday at 3pm works for me!",
                 "Sorry, I can't do Friday.", "Could we do a different day?",
                 "Friday works great, see you then.")
    r = post(client, auth, body())
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["triggered"] is True
    texts = [s["text"] for s in data["suggestions"]]
    assert len(texts) == 3
    assert all(s["source"] == "llm" for s in data["suggestions"])
    assert "Friday at 3pm works for me!" in texts  # preamble stripped
    assert not any("here's a reply" in t.lower() for t in texts)
    # two positive candidates were generated; only the best one is served
    assert not ("Friday at 3pm works for me!" in texts and "Friday works great, see you then." in texts)
    assert data["prompt_version"] == "smart_reply_v1"
    assert data["model"] == "fake/test"
    assert data["personalized"] is False and data["fallback_reason"] == "no_history"
    assert all(s["checks"] for s in data["suggestions"])
    assert data["request_id"] == r.headers["X-Request-ID"]


def test_the_prompt_fences_the_email_and_keeps_fixed_text_first(client, auth, fake):
    post(client, auth, body())
    first = fake.calls[0]["messages"]
    assert first[0]["role"] == "system"
    assert "<<<UNTRUSTED>>>" in first[-1]["content"]
    assert "Friday at 3pm" in first[-1]["content"]
    # every sample sends the very same prompt (llama.cpp reuses the prefill)
    assert all(c["messages"] == first for c in fake.calls)
    temps = [c["params"].get("temperature") for c in fake.calls]
    assert len(set(temps)) == len(temps) > 1


@pytest.mark.parametrize("message", [
    {"from": "no-reply@shop.example", "subject": "Your order", "body": "Your order has shipped."},
    {"from": "news@brand.example", "subject": "Deals", "body": "Big deals this week!"},
    {"from": "ann@brand.example", "subject": "Weekly digest", "body": "Top stories this week.",
     "headers": {"List-Unsubscribe": "<mailto:unsub@brand.example>"}},
    {"from": "ann@brand.example", "subject": "Update", "body": "Hello all, new features.",
     "headers": {"Precedence": "bulk"}},
    {"from": "ann@brand.example", "subject": "Spring", "body":
     "Our spring collection is here.\n\nView this email in your browser | Unsubscribe"},
    {"from": "ann@friend.example", "subject": "Essay", "body": "word " * 3000},
    {"from": "ann@friend.example", "subject": "", "body": " \n "},
])
def test_bulk_and_no_reply_mail_is_not_triggered(client, auth, fake, message):
    r = post(client, auth, body(message))
    assert r.status_code == 200, r.text
    assert r.json()["triggered"] is False and r.json()["suggestions"] == []
    assert fake.calls == []  # no model time spent on it


def test_personal_mail_with_headers_is_triggered(client, auth, fake):
    msg = dict(MEETING, headers={"Message-ID": "<1@example.com>"})
    assert post(client, auth, body(msg)).json()["triggered"] is True


def test_personalization_changes_the_suggestions(client, auth, fake):
    add_replies(client, auth, "sam", SAM)
    add_replies(client, auth, "jane", JANE)
    outputs = {}
    for user in ("sam", "jane"):
        fake.reset()
        fake.enqueue("Sure, Friday at 3pm works for me. I'll update the invite.",
                     "Sorry, I can't make Friday.", "Could we do Monday instead?")
        r = post(client, auth, body(user_id=user))
        data = r.json()
        assert data["personalized"] is True and data["fallback_reason"] is None
        assert data["context_ids"], "the user's past exchanges were used"
        outputs[user] = [s["text"] for s in data["suggestions"]]
        # the user's own past exchanges are in the prompt, as chat turns
        prompt = " ".join(m["content"] for m in fake.calls[0]["messages"])
        assert "to Wednesday at 2pm" in prompt if user == "sam" else "to Tuesday at 10am" in prompt
    sam, jane = outputs["sam"], outputs["jane"]
    assert sam != jane
    assert all(t.endswith("Cheers, Sam") for t in sam), sam
    assert all(t.startswith("Dear Bob,") and t.endswith("Jane Doe") for t in jane), jane
    # terse user: one sentence; formal user: no contractions
    assert not any("update the invite" in t for t in sam)
    assert not any("can't" in t or "I'll" in t for t in jane)


def test_personalization_off_reads_no_history(client, auth, fake):
    add_replies(client, auth, "sam", SAM)
    r = client.put("/v1/users/sam/preferences", json={"personalization": False}, headers=auth)
    assert r.status_code == 200, r.text
    data = post(client, auth, body(user_id="sam")).json()
    assert data["personalized"] is False and data["context_ids"] == []
    assert data["fallback_reason"] == "personalization_off"
    assert not any("Sam" in s["text"] for s in data["suggestions"])
    prompt = " ".join(m["content"] for m in fake.calls[0]["messages"])
    assert "offsite" not in prompt and "Cheers" not in prompt


def test_signature_preference_is_the_sign_off(client, auth, fake):
    add_replies(client, auth, "ana", [("a1", "Lunch?", "Sure, noon works.")])
    client.put("/v1/users/ana/preferences", json={"personalization": True, "signature": "— Ana"},
               headers=auth)
    data = post(client, auth, body(user_id="ana")).json()
    assert data["suggestions"] and all(s["text"].endswith("— Ana") for s in data["suggestions"])


def test_suggestions_are_distinct_in_meaning(client, auth, fake):
    fake.enqueue("Yes, Friday works.", "Yes, Friday works for me!", "Sure, Friday is fine.",
                 "Friday at 3pm is great.")
    data = post(client, auth, body()).json()
    texts = [s["text"] for s in data["suggestions"]]
    assert len(texts) == 3
    # the model only offered "yes"; one yes is served, rules add a no and a question
    assert sum(s["source"] == "llm" for s in data["suggestions"]) == 1
    assert any(t.endswith("?") for t in texts)
    assert any("sorry" in t.lower() or "can't" in t.lower() for t in texts)
    assert data["fallback_reason"] == "no_history"


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_n_suggestions_are_served(client, auth, fake, n):
    # The model's answers are scripted: with the shared fake of old, which ones it gave
    # depended on how many calls earlier tests had made.
    fake.enqueue("Sorry, I can't make it.", "Could you tell me more?",
                 "Thanks for letting me know.")
    data = post(client, auth, body(n=n)).json()
    assert len(data["suggestions"]) == n
    assert len({s["text"] for s in data["suggestions"]}) == n


def test_suggestions_respect_max_chars(client, auth, fake):
    fake.enqueue("Friday at 3pm works for me, and I will also bring the quarterly numbers, "
                 "the slides, and the notes from last week so we can go through them together.",
                 delay_s=0)
    data = post(client, auth, body(max_chars=40)).json()
    assert data["suggestions"]
    assert all(len(s["text"]) <= 40 for s in data["suggestions"])


def test_generation_is_recorded_for_feedback(client, auth, fake, services):
    from sqlalchemy import select

    from gateway.tables import Generation

    r = post(client, auth, body())
    rid = r.json()["request_id"]
    with services.db.session() as s:
        g = s.scalars(select(Generation).where(Generation.request_id == rid)).one()
        assert g.task == "smart_reply"
        assert services.keys.open_json(g.tenant_id, g.user_id, g.outputs) == [  # sealed
            x["text"] for x in r.json()["suggestions"]]
        assert g.prompt_version == "smart_reply_v1"


def test_recorded_input_is_cut_at_the_max_text_chars_setting(client, auth, fake, services,
                                                             monkeypatch):
    monkeypatch.setattr(services.settings, "max_text_chars", 120)  # was a fixed 20,000
    message = dict(MEETING, body="Can we move our Thursday meeting to Friday at 3pm? " * 5)
    rid = post(client, auth, body(message)).json()["request_id"]
    from sqlalchemy import select

    from gateway.tables import Generation

    with services.db.session() as s:
        gen = s.scalar(select(Generation).where(Generation.request_id == rid))
        assert len(services.keys.open_text(gen.tenant_id, gen.user_id, gen.input_text)) == 120


def test_n_is_served_when_the_model_gives_fewer_intents_than_n(client, auth, fake):
    # Was flaky: the fake cycles its replies process-wide, and when a request's three
    # samples were positive/negative/question, the rules (scheduling: positive,
    # negative, question, ack) added one intent only and n=5 served 4.
    fake.enqueue("Sounds good, thanks!", "Sorry, I can't make it.", "Could you tell me more?")
    data = post(client, auth, body(n=5)).json()
    assert len({s["text"] for s in data["suggestions"]}) == 5


def test_n_is_served_from_rules_when_the_message_has_few_canned_replies(client, auth, fake):
    fake.error = RuntimeError("model down")
    thanks = {"from": "Lee <lee@example.com>", "subject": "Launch",
              "body": "Thanks so much for your help with the launch yesterday!"}
    data = post(client, auth, body(thanks, n=5)).json()
    assert data["fallback_reason"] == "llm_error"
    assert len({s["text"] for s in data["suggestions"]}) == 5  # three canned, two fillers


def test_a_past_reply_is_served_without_its_old_names_or_a_second_sign_off(client, auth, fake):
    """Mail arrives with CRLF and blank lines between sign-off and name; a past reply
    that named its old recipient ("Grisha, ...") or ended with the user's own name is
    served without them, with the user's sign-off once, laid out as they sign."""
    signed = "Hi Grisha,\r\n\r\n{}\r\n\r\nBest,\r\n\r\nDavid"
    add_replies(client, auth, "dave", [
        ("d1", "Can we move the review to Friday?", signed.format("Friday works for me.")),
        ("d2", "Can we move our call to Monday at 3pm?",
         signed.format("Grisha, Monday at 3pm works.")),
        ("d3", "Can we move the meeting to Tuesday?",
         signed.format("Yes, Tuesday is fine. David.")),
    ])
    fake.enqueue("Sounds good.", "Sounds good.", "Sounds good.")
    r = post(client, auth, body(user_id="dave"))
    assert r.status_code == 200, r.text
    exp = client.get(f"/v1/requests/{r.json()['request_id']}", headers=auth).json()
    personal = [c["text"] for c in exp["candidates"]]
    for text in personal:
        assert "Grisha" not in text and "\r" not in text, text
        assert text.endswith("Best,\nDavid") and text.count("David") == 1, text
    bodies = {t.split("\n")[-3] for t in personal}
    assert {"Monday at 3pm works.", "Yes, Tuesday is fine."} <= bodies, personal


@pytest.mark.parametrize("example_tokens, in_prompt", [(0, False), (200, True)])
def test_an_in_process_model_gets_the_users_exchanges_within_a_token_budget(
        settings, example_tokens, in_prompt):
    """The embedded model pays for every prompt token in prefill time, so ``local/*``
    prompts carry the user's past exchanges only within ``smart_reply_local_example_tokens``
    (0: none). The style applies either way."""
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.auth import create_key
    from tests.conftest import wait_ready
    from tests.fakes import FakeLLM, fake_installed

    update = {"models": ["local/tiny"], "smart_reply_local_example_tokens": example_tokens}
    with TestClient(create_app(settings.model_copy(update=update))) as c:
        wait_ready(c)
        h = {"Authorization": f"Bearer {create_key(c.app.state.services.db, tenant='t')}"}
        add_replies(c, h, "sam", SAM)
        fake = FakeLLM()
        with fake_installed(fake, provider="local"):
            fake.enqueue("Sure, Friday works.", "Sorry, I can't.", "Could we do Monday?")
            data = post(c, h, body(user_id="sam")).json()
        assert data["personalized"] is True and data["fallback_reason"] is None, data
        assert all(s["text"].endswith("Cheers, Sam") for s in data["suggestions"]), data
        prompt = " ".join(m["content"] for m in fake.calls[0]["messages"])
        assert ("to Wednesday at 2pm" in prompt) is in_prompt, prompt
