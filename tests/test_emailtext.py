"""One email-text module (guardrails/emailtext.py): style, cleaning, subject lines and
the guardrails must agree on the same text."""

from __future__ import annotations

import pytest

from gateway.usecases.replies.clean import apply_style, clean, drop_unfinished
from gateway.usecases.replies.style import StyleProfile, build_profile
from gateway.usecases.subjects.constraints import Limits, drop_cut_off_tail, enforce
from gateway.usecases.subjects.style import features
from guardrails import CheckContext
from guardrails.checks.boilerplate import BoilerplateCheck
from guardrails.checks.emoji import EmojiCheck
from guardrails.checks.salutation import SalutationCheck
from guardrails.emailtext import SIGNOFF_WORDS, find_emoji, split_sentences, split_signoff

EMOJI_TEXTS = [
    "Sounds great ⭐",  # U+2B50: the reply style's old range missed it
    "See you at 3 ⏰",  # U+23F0
    "Option 1️⃣ works for me",  # keycap: the guardrail's old range missed it
    "Family dinner 👨‍👩‍👧 sounds fun",
    "Nice 👍🏽!",
    "Love it ❤️",
    "Bon voyage 🇫🇷",
    "Mahjong night 🀄 then",
]
NO_EMOJI = CheckContext(emoji_allowed=False)


@pytest.mark.parametrize("text", EMOJI_TEXTS)
def test_style_stripping_and_the_emoji_guardrail_agree(text):
    assert find_emoji(text), "the guardrail must see an emoji here"
    assert not EmojiCheck().run(text, NO_EMOJI).passed
    assert build_profile([text, text, text]).emoji is True  # the style sees it too
    styled = apply_style(text, StyleProfile(), sender="bob@example.com", max_chars=200)
    assert EmojiCheck().run(styled, NO_EMOJI).passed, styled
    assert not find_emoji(styled) and "\u200d" not in styled and "\ufe0f" not in styled


@pytest.mark.parametrize("text", EMOJI_TEXTS)
def test_subject_lines_and_the_emoji_guardrail_agree(text):
    assert features(text)["emoji"] == 1.0
    subject = enforce(text, Limits(max_chars=80, emoji=False))
    assert subject and EmojiCheck().run(subject, NO_EMOJI).passed, subject


def test_typography_is_not_emoji():
    assert find_emoji("© 2026 Acme™ → page 2 ∑") == []
    assert features("Price → $20 ©")["emoji"] == 0.0


def test_one_sentence_splitter_knows_abbreviations():
    text = "Meeting with Enron Corp. GISB at 3. Then the L.A. Office visit. No. 5 is fine."
    assert split_sentences(text) == ["Meeting with Enron Corp. GISB at 3.",
                                     "Then the L.A. Office visit.", "No. 5 is fine."]
    assert split_sentences("Sorry, no. I can't.") == ["Sorry, no.", "I can't."]
    assert split_sentences("Moved; new time is 3.", semicolons=True) == ["Moved;", "new time is 3."]
    assert split_sentences("one\ntwo. three", newlines=True) == ["one", "two. three"]


def test_replies_and_subjects_cut_unfinished_tails_alike():
    # Smart replies used to split "No. 5" and drop "5 and the" as an unfinished sentence.
    assert drop_unfinished("See No. 5 and the") == "See No. 5 and the"
    assert drop_unfinished("Sorry, no. I'll be there at") == "Sorry, no."
    assert drop_cut_off_tail("Meet Enron Corp. GISB in L.A. today. And the") == (
        "Meet Enron Corp. GISB in L.A. today.")


@pytest.mark.parametrize("word", SIGNOFF_WORDS)
def test_every_signoff_is_known_to_style_cleaning_and_guardrails(word):
    signoff = word[:1].upper() + word[1:]
    signed = f"Sounds good.\n{signoff},\nZed"
    assert split_signoff(signed) == ("Sounds good.", f"{signoff}, Zed")
    assert clean(f"Sounds good, see you.\n{signoff}!", incoming="Can we meet?") == (
        "Sounds good, see you.")
    slot = BoilerplateCheck().run(f"Sounds good.\n{signoff},\n[Your Name]", CheckContext())
    assert slot.repaired == "Sounds good."  # the sign-off above the slot goes with it
    named = SalutationCheck().run(signed, CheckContext(sources=("Can we meet Friday?",)))
    assert not named.passed and "Zed" in named.reason


@pytest.mark.parametrize("text, body, signoff", [
    ("Sounds great!\r\n\r\nBest,\r\n\r\nIsabel", "Sounds great!", "Best, Isabel"),  # CRLF, blank line
    ("See you then.\n\nCheers,\n\nSam", "See you then.", "Cheers, Sam"),
    ("Looking forward to it :-) Cheers, David.", "Looking forward to it :-)", "Cheers, David."),
    ("Thanks a lot", "Thanks a lot", None),  # a reply that is all thanks keeps its words
    ("OK :) Next Wednesday! Hugs, Isabel.", "OK :) Next Wednesday!", "Hugs, Isabel."),  # PanzaMail
])
def test_sign_offs_after_crlf_blank_lines_and_emoticons(text, body, signoff):
    from guardrails.emailtext import bare_reply, split_signoff

    assert split_signoff(text) == (body, signoff)
    assert bare_reply(text) == body


@pytest.mark.parametrize("text, expected", [
    ("Grisha, another gentle reminder about this.", "Another gentle reminder about this."),
    ("Bob, can you do it?", "Can you do it?"),
    ("Sure, I will.", "Sure, I will."),  # a common word, not a name
    ("Monday, then.", "Monday, then."),  # a weekday is a fact, not a recipient
    ("Honestly, no idea.", "Honestly, no idea."),  # a sentence adverb, not a recipient
    ("Yes, Tuesday is fine. David.", "Yes, Tuesday is fine."),  # the user's own name
    ("Thanks, David.", "Thanks, David."),  # no sentence before it: left alone
    ("Thanks Archie! With some delay, I have submitted it.",
     "Thanks! With some delay, I have submitted it."),  # PanzaMail: thanks to the old recipient
    ("Thank you so much, Maria. It works.", "Thank you so much. It works."),
    ("Thanks Monday works.", "Thanks Monday works."),  # no mark after the word: not addressed
])
def test_a_past_reply_is_made_reusable_for_another_recipient(text, expected):
    from gateway.usecases.replies.rules import reusable

    assert reusable(text, own_names=["David"]) == expected


def test_a_user_who_signs_on_a_line_of_their_own_gets_it_that_way():
    isabel = build_profile(["Sounds great!\r\n\r\nBest,\r\n\r\nIsabel", "Sure.\n\nBest,\nIsabel",
                            "Thanks, see you.\r\n\r\nBest,\r\nIsabel"])
    assert isabel.signoff == "Best, Isabel" and isabel.signoff_own_line
    # ... and her name under the valediction, as she writes it
    assert apply_style("Thank you!", isabel, sender="Bob <b@x.com>",
                       max_chars=200) == "Thank you!\nBest,\nIsabel"
    sam = build_profile(["Sounds good. Cheers, Sam", "Sure. Cheers, Sam"])
    assert sam.signoff == "Cheers, Sam" and not sam.signoff_own_line
    assert not sam.signoff_name_line
    assert apply_style("Thank you!", sam, sender="Bob <b@x.com>",
                       max_chars=200) == "Thank you! Cheers, Sam"


def test_a_valediction_and_name_on_one_line_stay_on_one_line():
    ana = build_profile(["Sure.\n\nBest, Ana", "Fine by me.\nBest, Ana", "Yes.\n\nBest, Ana"])
    assert ana.signoff_own_line and not ana.signoff_name_line
    assert apply_style("Thank you!", ana, sender="Bob <b@x.com>",
                       max_chars=200) == "Thank you!\nBest, Ana"
    # a preference signature is used as written, whatever the history's layout
    signed = build_profile(["Sure.\n\nBest,\nAna"] * 3, signature="Cheers, Ana")
    assert not signed.signoff_name_line and signed.signoff_block == "Cheers, Ana"
