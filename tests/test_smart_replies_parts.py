"""The smart-reply pipeline's parts, one at a time (no app, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.core.settings import Settings
from gateway.schemas.smart_replies import IncomingMessage
from gateway.usecases.replies.clean import apply_style, clean, cut_to
from gateway.usecases.replies.rules import (
    Pair,
    canned_candidates,
    message_intent,
    personal_candidates,
    reply_intent,
)
from gateway.usecases.replies.select import Candidate, pick_distinct
from gateway.usecases.replies.style import build_profile, split_signoff
from gateway.usecases.replies.trigger import decide
from guardrails.emailtext import ASSISTANT_TALK
from prompts.render import split_turns

INCOMING = "Can we move our Thursday meeting to Friday at 3pm?"


MAX_BODY = Settings.model_fields["smart_reply_max_body_chars"].default


def msg(**kw) -> IncomingMessage:
    return IncomingMessage.model_validate({"from": "bob@example.com", "body": "Lunch?", **kw})


@pytest.mark.parametrize("kw, reason", [
    ({"from": "noreply@shop.example"}, "no_reply_sender"),
    ({"from": "Shop <do-not-reply@shop.example>"}, "no_reply_sender"),
    ({"from": "mailer-daemon@mx.example"}, "no_reply_sender"),
    ({"headers": {"list-unsubscribe": "<https://x.example/u>"}}, "bulk_header"),
    ({"headers": {"Precedence": "list"}}, "bulk_header"),
    ({"headers": {"Auto-Submitted": "auto-replied"}}, "auto_submitted"),
    ({"body": "Big sale!\nTo stop receiving these emails, click here."}, "bulk_footer"),
    ({"body": "!!!"}, "empty_body"),
    ({"body": "x " * 4000}, "long_body"),
])
def test_trigger_says_why_not(kw, reason):
    d = decide(msg(**kw), max_body_chars=MAX_BODY)
    assert (d.triggered, d.reason) == (False, reason)


@pytest.mark.parametrize("kw", [
    {}, {"from": "Nora Reply <nora@example.com>"}, {"headers": {"Auto-Submitted": "no"}},
    {"body": "Can you subscribe me to the design list?"},
])
def test_trigger_accepts_personal_mail(kw):
    assert decide(msg(**kw), max_body_chars=MAX_BODY).triggered


@pytest.mark.parametrize("raw, want", [
    ("Sure, here's a reply:\n\n\"Hi Bob,\nFriday at 3pm works for me!\nBest,\n[Your Name]\"",
     "Friday at 3pm works for me!"),
    ("Reply: Sounds good, thanks!", "Sounds good, thanks!"),
    ("1. Yes, Friday works. 2. No, sorry.", "Yes, Friday works."),
    ("Subject: Re: Thursday\n\nDear Bob,\n\nFriday is fine. See you. I will bring the notes.",
     "Friday is fine. See you. I will bring the notes."),
    ("Yes, Friday works. And also the multi-destination", "Yes, Friday works."),
])
def test_clean_keeps_the_reply_itself(raw, want):
    assert clean(raw, incoming=INCOMING, max_sentences=3) == want


@pytest.mark.parametrize("raw", [
    "", "   ", "<<<UNTRUSTED>>> hi", "I'm sorry, I can't help with that.",
    "As an AI language model, I cannot attend meetings.", INCOMING, "[Your Name]",
    # the embedded model's assistant talk, as it writes it
    "I'm sorry, I can't help you with that.", "I am sorry, I cannot help you.",
    "I’m sorry, I can’t help you with that.", "I'm sorry, I can't answer your question.",
    "I'm sorry, I don't have an email address.", "I'm sorry, I don't have an answer for you.",
    "I'm sorry, but I don't have any information about the Dash app.",
    "I'm sorry for any misunderstanding, but as a text-based AI, I don't have the details.",
])
def test_clean_rejects_what_is_not_a_reply(raw):
    assert clean(raw, incoming=INCOMING) is None


@pytest.mark.parametrize("raw", [
    "I'm sorry for the confusion.", "I apologize for the inconvenience.",
    "I'm sorry for your loss.", "I’m sorry.", "Sorry about that, I'll fix it.",
    "I'm sorry for the delay, Friday works.",
    # accounts the model makes up
    "I'm sorry, I was just going to the bathroom.", "I'm sorry, I didn't remember your name.",
])
def test_clean_drops_an_apology_the_email_gives_no_cause_for(raw):
    assert clean(raw, incoming="Are we still on for lunch on Friday?") is None


@pytest.mark.parametrize("raw, incoming", [
    ("I'm sorry for the confusion.", "I'm confused: which room is the meeting in?"),
    ("I apologize for the inconvenience.", "The invoice you sent has an error in it."),
    ("I'm sorry for your loss.", "My grandmother passed away last night."),
    ("I'm sorry for the delay.", "Still waiting on the report, any update?"),
    ("Sorry, I can't make it.", "Can you join us for lunch on Friday?"),
    ("I'm so sorry to hear that.", "Unfortunately the launch was cancelled."),
    ("Sorry, I missed it.", "That talk yesterday was really good."),
    ("Sorry I'm late, on my way.", "Where are you? We started."),
    ("I'm sorry about that.", "The export still doesn’t work for me."),  # a curly ’
])
def test_clean_keeps_an_apology_the_email_gives_cause_for(raw, incoming):
    assert clean(raw, incoming=incoming) == raw


def test_the_response_set_is_sorry_only_when_there_is_cause():
    sad = [r.text for r in canned_candidates("My dog died last night, it hurts.")]
    glad = [r.text for r in canned_candidates("I bet you taste yummy!")]
    assert "I'm so sorry." in sad and "I'm so sorry." not in glad
    assert "I think it is." in glad


@pytest.mark.parametrize("text", [
    "As a teaching assistant, I can cover the Friday lab.",
    "I can't help you move on Saturday, sorry.",
    "I don't have the slides yet, will send them tonight.",
])
def test_people_talking_like_people_is_not_assistant_talk(text):
    assert not ASSISTANT_TALK.search(text)


@pytest.mark.parametrize("sender, greeting", [
    ("Bob Smith <bob@example.com>", "Dear Bob,"), ("ana.lopez@example.com", "Dear Ana,"),
    ("raj2@example.com", "Dear Raj,"), ("colleague@example.com", None),
    ("info@shop.example", None), ("Support Team <support@shop.example>", None),
    ("The Acme Team <team@acme.example>", None),
])
def test_the_greeting_names_a_person_never_a_mailbox(sender, greeting):
    style = build_profile([f"Dear Tom,\nThank you, that works. {i}\nBest,\nJane"
                           for i in range(3)])
    out = apply_style("That works.", style, sender=sender, max_chars=200)
    assert out.splitlines()[0] == (greeting or "That works.")
    hi = build_profile([f"Hi Tom,\nsure, works. {i}\nBest,\nJane" for i in range(3)])
    assert apply_style("That works.", hi, sender="info@shop.example",
                       max_chars=200).startswith("Hi,\n")


def test_cut_to_never_splits_a_word():
    out = cut_to("Friday works for me, and I will bring the slides and the notes.", 30)
    assert len(out) <= 30 and out.endswith((".", "…"))
    assert all(w in "Friday works for me, and I will bring the slides and the notes."
               for w in out.rstrip(".…").split())


def test_style_profile_learns_habits():
    casual = build_profile(["yep, works. Cheers, Sam", "sure thing. Cheers, Sam",
                            "nope, busy. Cheers, Sam"])
    assert casual.signoff == "Cheers, Sam" and casual.greeting is None
    assert casual.terse and casual.formality < 0.4 and casual.lowercase
    formal = build_profile([("Dear Tom,\nThank you for your message. I would be glad to attend "
                            "the meeting on Friday.\nBest regards,\nJane Doe")] * 2)
    assert formal.greeting == "Dear" and formal.signoff == "Best regards, Jane Doe"
    assert formal.formality > 0.6 and not formal.terse
    assert build_profile([], signature="— Ana").signoff == "— Ana"
    assert build_profile(["ok. Cheers, Sam"], signature="— Ana").signoff == "— Ana"


def test_a_one_off_sign_off_is_not_a_habit():
    assert build_profile(["Sure. Cheers, Sam", "ok", "fine", "yes"]).signoff is None


def test_split_signoff():
    assert split_signoff("Sounds good.\nBest regards,\nJane") == ("Sounds good.", "Best regards, Jane")
    assert split_signoff("Thanks!") == ("Thanks!", None)


def test_apply_style_dresses_and_fits():
    casual = build_profile(["yep, works. Cheers, Sam"] * 3)
    formal = build_profile([("Dear Tom,\nThank you, I would be glad to attend the meeting.\n"
                            "Best regards,\nJane Doe")] * 2)
    text = "Sure, I'll be there. I can't stay long though."
    assert apply_style(text, casual, sender="bob@x.com", max_chars=200) == \
        "sure, I'll be there. Cheers, Sam"
    f = apply_style(text, formal, sender="Bob Smith <bob@x.com>", max_chars=200)
    assert f == ("Dear Bob,\nSure, I will be there. I cannot stay long though.\n"
                 "Best regards,\nJane Doe")  # her name under the valediction, as she signs
    short = apply_style(text, formal, sender="bob@x.com", max_chars=60)
    assert len(short) <= 60 and short.endswith("Jane Doe")


@pytest.mark.parametrize("text, intent", [
    (INCOMING, "scheduling"), ("Could you send me the report by Monday?", "request"),
    ("Is the build green?", "yes_no_question"), ("What do you think of the logo?", "open_question"),
    ("Thanks so much for the help!", "thanks"), ("I got the job!", "good_news"),
    ("FYI the server will be down tonight.", "fyi"), ("That movie was great", "opinion"),
])
def test_message_intent(text, intent):
    assert message_intent(text) == intent


@pytest.mark.parametrize("text, intent", [
    ("Sounds good, thanks!", "positive"), ("Sorry, I can't make it.", "negative"),
    ("Could you tell me more?", "question"), ("Thanks for letting me know.", "thanks"),
    ("Got it, will check.", "ack"), ("No problem!", "positive"), ("Hmm.", "other"),
])
def test_reply_intent(text, intent):
    assert reply_intent(text) == intent


def test_canned_replies_cover_distinct_intents_for_every_message_intent():
    for text in ("Lunch Friday?", "Please review the doc.", "FYI: moved to B2.", "Cool story"):
        intents = [c.intent for c in canned_candidates(text)[:3]]
        assert len(set(intents)) == 3, (text, intents)


def test_personal_candidates_prefer_similar_short_replies():
    pairs = [Pair("a", "Lunch tomorrow?", "yep, noon works", 0.9),
             Pair("b", "Quarterly planning", "Here is my long answer " * 5, 0.95),
             Pair("c", "Unrelated", "nope", 0.1),
             Pair("d", "Lunch Friday?", "Yep, noon works!", 0.8)]
    got = personal_candidates(pairs)
    assert [c.text for c in got] == ["yep, noon works"]  # long, dissimilar and duplicate dropped
    assert got[0].context_id == "a" and got[0].prior > 0.9


def _cand(text, intent, score, source="llm"):
    return Candidate(text=text, bare=text, source=source, intent=intent, prior=0.5, score=score)


def test_pick_distinct_one_per_intent_and_no_near_duplicates():
    cands = [_cand("Yes, works.", "positive", 0.9), _cand("Sure, fine.", "positive", 0.8),
             _cand("Sorry, no.", "negative", 0.7), _cand("No way.", "negative", 0.6),
             _cand("When?", "question", 0.5), _cand("Huh.", "other", 0.4)]
    vecs = np.eye(6, dtype=np.float32)
    vecs[4] = vecs[0]  # "When?" is a paraphrase of the first pick
    assert pick_distinct(cands, vecs, 3) == [0, 2, 5]


def test_pick_distinct_fills_after_the_chosen_ones():
    cands = [_cand("Yes.", "positive", 0.9), _cand("Great!", "positive", 0.95, "rules"),
             _cand("Why?", "question", 0.3, "rules")]
    vecs = np.eye(3, dtype=np.float32)
    first = pick_distinct(cands, vecs, 2, eligible=[0])
    assert pick_distinct(cands, vecs, 2, chosen=first, eligible=[1, 2]) == [0, 2]


def test_split_turns_builds_a_chat_transcript():
    msgs = [{"role": "system", "content": "sys"},
            {"role": "user", "content": "q1\n### ASSISTANT\na1\n### USER\nq2"}]
    assert split_turns(msgs) == [{"role": "system", "content": "sys"},
                                 {"role": "user", "content": "q1"},
                                 {"role": "assistant", "content": "a1"},
                                 {"role": "user", "content": "q2"}]


def test_a_token_budget_for_exchanges_skips_a_long_one_and_keeps_the_short_ones():
    from gateway.usecases.replies.prompt import build_prompt
    from gateway.usecases.replies.rules import Pair

    def words(text: str) -> int:  # a stand-in tokenizer
        return len(text.split())

    long_reply = "Thanks for the note, " + "and here is a long paragraph of news " * 6
    pairs = [Pair("long", "How was the trip?", long_reply, 0.9),
             Pair("short", "Lunch at noon?", "yep, works.", 0.8)]
    kw = {"subject": "Lunch", "body": "Lunch tomorrow?", "pairs": pairs,
          "budget_tokens": 10**6, "count_tokens": words}
    assert build_prompt(**kw).example_ids == ["long", "short"]  # no budget: both
    assert build_prompt(**kw, example_tokens=20).example_ids == ["short"]
    assert build_prompt(**kw, example_tokens=0).example_ids == []
