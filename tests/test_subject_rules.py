"""Rule subject lines, output cleaning and history layouts, without the app."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from gateway.usecases.subjects.candidates import past_subject
from gateway.usecases.subjects.constraints import Limits, enforce, split_model_output
from gateway.usecases.subjects.rules import extract_facts, rule_subject_lines
from gateway.usecases.subjects.style import fit, profile_of

SALE = "Our spring sale: 20% off all running shoes until April 30."


def test_offer_product_and_deadline_are_copied_from_the_body():
    f = extract_facts(SALE)
    assert (f.offer, f.product, f.deadline) == ("20% off", "running shoes", "until April 30")
    assert f.offer_phrase == "20% off all running shoes"


@pytest.mark.parametrize("max_chars", [15, 25, 40, 60])
def test_rule_lines_fit_and_only_carry_numbers_from_the_body(max_chars):
    lines = rule_subject_lines(SALE, brand="Stride", max_chars=max_chars)
    assert lines
    for line in lines:
        assert len(line) <= max_chars
        # words are never cut: every number is whole and in the body
        assert set(re.findall(r"\d+%?", line)) <= {"20%", "30"}, line


def test_body_without_offer_gets_topic_lines_and_no_claims():
    lines = rule_subject_lines("We have restocked the leather boots you loved last winter.")
    assert any("leather boots" in line.lower() for line in lines)
    assert not any(re.search(r"\d|%|\bfree\b", line, re.IGNORECASE) for line in lines)


def test_model_output_is_cleaned_into_bare_lines():
    raw = ('Here are 3 subject lines:\n1. "Spring sale: 20% off"\n2) Subject: RUN FASTER THIS '
           'SPRING\n- **Lighter runs**\nSentiment: positive\n<<<UNTRUSTED>>>\n\n'
           '1. "Spring sale: 20% off"')
    assert split_model_output(raw) == ["Spring sale: 20% off", "Run faster this spring",
                                       "Lighter runs"]


@pytest.mark.parametrize("raw, cut, clean", [
    # Cut off at max_tokens: the unfinished sentence or dangling words go.
    ("Masters is over Saturday and Sunday. I'm", True, "Masters is over Saturday and Sunday"),
    ("Filing in District Court in L.A., and I'm", True, "Filing in District Court in L.A"),
    ("Concerns about the deal; they are concerned", True, "Concerns about the deal"),
    ("Enron North America Corp. GISB for your review and", True,
     "Enron North America Corp. GISB for your review"),
    ("Move all meters to the pool at 304-", True, "Move all meters to the pool"),
    # A line the model finished itself is left alone.
    ("What are you waiting for", False, "What are you waiting for"),
    ("Sale ends Friday. Shop now", False, "Sale ends Friday. Shop now"),
])
def test_a_line_cut_off_by_the_token_limit_loses_its_unfinished_tail(raw, cut, clean):
    assert split_model_output(raw, cut_off=cut) == [clean]


def test_only_the_last_line_of_a_cut_off_completion_is_unfinished():
    raw = "Spring sale for runners and\nNew trail shoes are here and"
    assert split_model_output(raw, cut_off=True) == ["Spring sale for runners and",
                                                    "New trail shoes are here"]


@pytest.mark.parametrize("raw", ["I'm sorry, but I don't have the ability to send emails.",
                                 "Sorry, but I cannot write that", "I don't have access to email",
                                 "Unfortunately, I am unable to help"])
def test_apologies_and_refusals_are_not_subject_lines(raw):
    assert split_model_output(raw) == []


def test_enforce_drops_banned_words_and_strips_emoji():
    limits = Limits(max_chars=30, emoji=False, banned_words=("free",))
    assert enforce("Free shoes", limits) is None
    assert enforce("Freedom to run 🏃", limits) == "Freedom to run"
    # cut at a word boundary, dangling stop words dropped
    assert enforce("A very long line about all the running shoes we sell", limits) == \
        "A very long line"


@dataclass
class Item:
    id: str
    kind: str
    text: str
    context: str | None = None
    subject: str | None = None
    score: float = 0.5


def test_both_sent_email_layouts_and_subject_signals_are_read():
    a = past_subject(Item("a", "sent_email", "Body of the mail.", subject="Budget"))
    b = past_subject(Item("b", "sent_email", "Budget", context="Body of the mail."))
    c = past_subject(Item("c", "subject_opened", "Spring deals"))
    assert (a.subject, a.body) == (b.subject, b.body) == ("Budget", "Body of the mail.")
    assert (c.subject, c.kind) == ("Spring deals", "subject_opened")
    assert past_subject(Item("d", "sent_email", "no subject anywhere")) is None
    assert past_subject(Item("e", "sent_reply", "Sure")) is None


def test_style_fit_prefers_the_recipients_kind_of_subject():
    profile = profile_of(["Ready to run?", "Miss your trails?", "Want lighter shoes?"])
    assert fit("Ready for spring?", profile) > fit("SPRING SALE ON ALL RUNNING SHOES NOW", profile)
