"""A user who signs off most of the time, in words that vary, keeps their usual sign-off."""

from gateway.usecases.replies.style import build_profile


def test_a_varied_but_habitual_signoff_is_learned():
    replies = (["Thanks, that works.\n\nBest,\nDavid"] * 3
               + ["Happy to help.\n\nBest regards,\nDavid"] * 2
               + ["Sounds fun.\n\nCheers,\nDavid"] * 2
               + ["Sure, see you then."] * 2)
    # "Best, David" is 3 of 9 replies (below the 0.4 share), but 7 of 9 are signed off.
    assert build_profile(replies).signoff == "Best, David"


def test_a_rare_signoff_is_not_learned():
    replies = ["Best,\nDavid", "Cheers,\nDavid"] + ["Sure, see you then."] * 8
    assert build_profile(replies).signoff is None


def test_a_varied_but_habitual_greeting_is_learned():
    # Greets 8 of 10 replies, but no single word reaches the 0.4 share: the habit is
    # greeting, in their most frequent word.
    replies = (["Hi Tom,\nSure."] * 3 + ["Dear Tom,\nThank you."] * 3
               + ["Hey Tom,\nYes."] * 2 + ["Sure, see you then."] * 2)
    assert build_profile(replies).greeting == "Hi"


def test_a_rare_greeting_is_not_learned():
    replies = ["Hi Tom,\nSure.", "Dear Tom,\nYes."] + ["Sure, see you then."] * 8
    assert build_profile(replies).greeting is None
