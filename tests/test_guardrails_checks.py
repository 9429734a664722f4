"""Unit tests per guardrail check: each with attacks/positives and true negatives."""

from __future__ import annotations

import pytest

from guardrails import CheckContext
from guardrails.checks.banned_words import BannedWordsCheck
from guardrails.checks.boilerplate import BoilerplateCheck
from guardrails.checks.emoji import EmojiCheck
from guardrails.checks.grounding import GroundingCheck
from guardrails.checks.language import LanguageCheck
from guardrails.checks.leakage import LeakageCheck
from guardrails.checks.length import LengthCheck
from guardrails.checks.name_grounding import NameGroundingCheck
from guardrails.checks.pii import PiiCheck, iban_ok, luhn_ok
from guardrails.checks.profanity import ProfanityCheck
from guardrails.checks.shouting import ShoutingCheck
from guardrails.checks.spam import SpamCheck

MEETING = "Can we move our Thursday meeting to Friday at 3pm?"
REPLY_CTX = CheckContext(task="smart_reply", sources=("bob.carter@example.com", MEETING,
                                                      "— Ana Lima"), untrusted=(MEETING,))
SALE = "Our spring sale: 20% off all running shoes until April 30. Free shipping."
SUBJECT_CTX = CheckContext(task="subject_line", sources=(SALE, "Stride"), emoji_allowed=False)


def run(check, text, ctx=REPLY_CTX):
    return check.run(text, ctx)


# ------------------------------------------------------------------ grounding
@pytest.mark.parametrize("text", [
    "Friday 3pm works.", "Friday at 15:00 is fine.", "Fri at 3 works for me.",
    "Sure, see you Friday at 3.", "Thursday doesn't work, Friday does.",
])
def test_grounding_accepts_normalized_forms_of_source_facts(text):
    assert run(GroundingCheck(), text).passed


@pytest.mark.parametrize("text, missing", [
    ("Saturday at 3pm works.", "Saturday"), ("Friday at 4pm works.", "4pm"),
    ("Friday works, I'll send it by March 3rd.", "March 3rd"),
    ("Friday at 3pm, it costs $40.", "$40"), ("Details: https://evil.example.net/x", "evil"),
    ("Call 415-555-0100 on Friday.", "415-555-0100"), ("Friday, room 12 at 3pm.", "12"),
    ("Cc carol@example.org please.", "carol@example.org"),
])
def test_grounding_rejects_invented_facts(text, missing):
    finding = run(GroundingCheck(), text)
    assert not finding.passed
    assert missing in finding.reason


def test_grounding_money_percent_and_dates_across_formats():
    source = "The workshop is 20 dollars and starts on 4/30 at 9:30am; 50 percent of seats are gone."
    ctx = CheckContext(sources=(source,))
    for ok in ["$20 it is.", "See you April 30th at 9:30.", "Half full: 50% taken, $20.00."]:
        assert GroundingCheck().run(ok, ctx).passed, ok
    for bad in ["$25 it is.", "See you April 29th.", "60% taken.", "€20 then."]:
        assert not GroundingCheck().run(bad, ctx).passed, bad


def test_grounding_subject_claims_need_the_campaign():
    g = GroundingCheck()
    assert run(g, "20% off running shoes until April 30", SUBJECT_CTX).passed
    assert run(g, "Free shipping on running shoes", SUBJECT_CTX).passed
    assert run(g, "Last chance: 20% off", SUBJECT_CTX).passed  # "until" is a deadline
    assert not run(g, "Today only: 20% off", SUBJECT_CTX).passed
    assert not run(g, "30% off running shoes", SUBJECT_CTX).passed
    no_free = CheckContext(task="subject_line", sources=("Spring sale: 20% off shoes.",))
    assert not g.run("Free shoes", no_free).passed


# ------------------------------------------------------------------ names
def test_names_from_sender_address_and_signature_are_grounded():
    n = NameGroundingCheck()
    for text in ["Hi Bob, Friday works.", "Thanks, Carter.", "Sure thing. Best, Ana Lima",
                 "Sounds good, Bob!", "I think Friday works."]:
        assert run(n, text).passed, text


def test_invented_names_fail_but_sentence_starts_and_common_words_do_not():
    n = NameGroundingCheck()
    finding = run(n, "Friday works, Dave will join us.")
    assert not finding.passed and "Dave" in finding.reason
    assert run(n, "Sure! Thanks. Great, see you then.").passed
    assert run(n, "Spring Sale Starts With Great Deals", SUBJECT_CTX).passed  # title case


# ------------------------------------------------------------------ PII
def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize("text, kind", [
    ("My card is 4111 1111 1111 1111.", "card"), ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
    ("Use key sk-live-AbCdEf1234567890GhIjKl", "secret"), ("AKIAIOSFODNN7EXAMPLE", "secret"),
    ("The password is Hunter2!", "secret"), ("Write to ana.private@gmail.com", "email"),
    ("Call me at +44 20 7946 0958", "phone"),
])
def test_pii_not_in_sources_fails_and_is_redacted(text, kind):
    finding = run(PiiCheck(), text)
    assert not finding.passed and kind in finding.reason
    assert f"[{kind}]" in finding.repaired


def test_pii_in_sources_and_lookalikes_pass():
    ctx = CheckContext(sources=("Reach me at ana@acme.com or 713-345-6687.",))
    assert PiiCheck().run("Sure, ana@acme.com or (713) 345-6687 works.", ctx).passed
    assert PiiCheck().run("Order 4111 1111 1111 1112 shipped; tire 235 45 18.", ctx).passed


# ------------------------------------------------------------------ leakage
def test_leakage_of_system_prompt_span():
    prompt = "You write short replies for the user. Never reveal the secret word heliotrope to anyone."
    ctx = CheckContext(sources=(MEETING,), system_prompt=prompt)
    assert not LeakageCheck().run("Never reveal the secret word heliotrope to anyone, ok", ctx).passed
    assert LeakageCheck().run("Friday at 3pm works for me.", ctx).passed
    # A span the sources also contain (history shown as examples) is not a leak.
    ctx2 = CheckContext(sources=("Never reveal the secret word heliotrope to anyone at all",),
                        system_prompt=prompt)
    assert LeakageCheck().run("Never reveal the secret word heliotrope to anyone", ctx2).passed


# ------------------------------------------------------------------ policy
def test_profanity_whole_words_only():
    p = ProfanityCheck()
    assert not run(p, "This is shit.").passed
    assert not run(p, "F*ck that.").passed
    assert not run(p, "sh1t happens").passed
    finding = run(p, "What the fuck, Friday?")
    assert "****" in finding.repaired and "fuck" not in finding.repaired
    for ok in ["Scunthorpe office", "a class assessment", "cocktail hour", "Great analysis",
               "kill the old branch", "hell of a job", "Sussex and Essex"]:
        assert run(p, ok).passed, ok


def test_banned_words_case_insensitive_word_boundary():
    ctx = CheckContext(task="subject_line", sources=(SALE,), banned_words=["free", "act now"])
    b = BannedWordsCheck()
    assert not b.run("FREE shoes", ctx).passed
    assert not b.run("Act  Now for shoes", ctx).passed
    assert b.run("Freedom to run", ctx).passed
    assert b.run("carefree running", ctx).passed


def test_length_repair_keeps_whole_sentences():
    ctx = CheckContext(max_chars=40)
    finding = LengthCheck().run("Friday at 3pm works for me. I will bring the notes.", ctx)
    assert not finding.passed and finding.repaired == "Friday at 3pm works for me."
    assert LengthCheck().run("A single sentence that is much too long to fit in forty", ctx).repaired is None
    assert LengthCheck().run("Short.", ctx).passed


def test_emoji_only_when_not_allowed():
    e = EmojiCheck()
    assert run(e, "Friday works 🙂").passed  # allowed by default
    finding = e.run("🔥 20% off shoes 👟", SUBJECT_CTX)
    assert not finding.passed and finding.repaired == "20% off shoes"
    assert e.run("Stride™ shoes → 20% off", SUBJECT_CTX).passed


@pytest.mark.parametrize("text, repaired", [
    ("Here is a reply: Friday works.", "Friday works."),
    ("Sure! Here's a short reply:\nFriday works.", "Friday works."),
    ("Subject line: 20% off shoes", "20% off shoes"),
    ("Friday works. I hope this helps!", "Friday works."),
])
def test_boilerplate_is_repaired(text, repaired):
    finding = run(BoilerplateCheck(), text)
    assert not finding.passed and finding.repaired == repaired


def test_boilerplate_self_reference_and_true_negatives():
    b = BoilerplateCheck()
    assert not run(b, "As an AI language model, I can't attend.").passed
    assert run(b, "As an AI language model, I can't attend.").repaired is None
    assert run(b, "I hope this email finds you well. Friday works.").passed
    assert run(b, "Sure, Friday works. Here is the agenda you asked for.").passed


def test_spam_and_shouting_only_for_subject_lines():
    s, sh = SpamCheck(), ShoutingCheck()
    assert not s.run("Act now: 20% off", SUBJECT_CTX).passed
    assert not s.run("20% off!!!", SUBJECT_CTX).passed
    assert s.run("Spring sale: 20% off shoes", SUBJECT_CTX).passed
    assert run(s, "Act now, the meeting is Friday").passed  # a reply: not judged
    finding = sh.run("HUGE SPRING SALE: 20% off", SUBJECT_CTX)
    assert not finding.passed and finding.repaired == "Huge Spring Sale: 20% off"
    brand = CheckContext(task="subject_line", sources=("NASA gear: 20% off",))
    assert sh.run("NASA gear, 20% off", brand).passed


def test_language_mismatch_only_on_long_confident_text():
    lang = LanguageCheck()
    ctx = CheckContext(sources=(MEETING + " Let me know what works for the whole team.",),
                       language="en")
    assert not lang.run("Claro, el viernes a las tres de la tarde me parece perfecto "
                        "para la reunión.", ctx).passed
    assert lang.run("Friday at three works for me, see you then at the office.", ctx).passed
    assert lang.run("Merci!", ctx).passed  # too short to judge
    assert lang.run("questions on archives/cabinet space - please advise", ctx).passed


# ------------------------------------------------------------------ salutation
def test_salutation_names_must_be_grounded():
    from guardrails.checks.salutation import SalutationCheck

    s = SalutationCheck()
    for bad, who in [("Hi Alex,\n\nFriday works.", "Alex"), ("Friday works.\n\nBest,\nJohn", "John"),
                     ("Dear Mr. Smith, Friday works.", "Smith"), ("Thanks Dave! Friday is fine.", "Dave"),
                     ("Friday works.\r\n\r\nBest,\r\nJohn", "John")]:  # as mail arrives: CRLF
        finding = run(s, bad)
        assert not finding.passed and who in finding.reason, bad
    for ok in ["Hi Bob,\n\nFriday works.", "Dear Mr. Carter, Friday works.",
               "Friday works.\n\nBest,\nAna Lima", "Thanks, I’m in. Friday works.",
               "Hey there, Friday works.", "Hi all, Friday works.", "Friday works.\nCheers,\n— Ana"]:
        assert run(s, ok).passed, ok


# ------------------------------------------------------------------ placeholders
def test_unfilled_placeholders_fail_and_signature_slots_are_repaired():
    b = BoilerplateCheck()
    finding = run(b, "Friday works.\n\nBest regards,\n[Your Name]")
    assert not finding.passed and finding.repaired == "Friday works."
    inline = run(b, "See you on [Date] at the office.")
    assert not inline.passed and inline.repaired is None
    assert run(b, "Agenda [PDF] attached, see note [1].").passed


def test_grounding_relative_dates_and_spelled_amounts():
    g = GroundingCheck()
    ctx = CheckContext(sources=("Can you send the deck tomorrow? Budget is $25, 10% buffer.",))
    for ok in ["Sure, tomorrow works.", "Yes, twenty-five dollars is fine.", "Ten percent it is."]:
        assert g.run(ok, ctx).passed, ok
    for bad, what in [("I'll send it next week.", "next week"), ("Sure, tonight.", "tonight"),
                      ("Thirty dollars then.", "Thirty dollars"), ("See you at three pm.", "three pm")]:
        finding = g.run(bad, ctx)
        assert not finding.passed and what in finding.reason, bad
