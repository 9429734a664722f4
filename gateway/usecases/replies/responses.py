"""The general response set: short replies that fit a remark or a question.

Smart Reply (Kannan et al. 2016) serves from a fixed response set of short,
frequent replies clustered into intents, and picks among them per message. The
canned replies of ``rules.py`` cover email intents (scheduling, requests,
thanks, ...); a remark or a question ("opinion", "yes_no_question",
"open_question" in ``message_intent``) had only four lines of its own, so most
such messages got the same three replies. This set gives the ranker a choice.

Each entry is (reply intent, text, prior). The intents are ``reply_intent``'s
classes (the diversity rule serves at most one per intent); the priors are
0.2 + 8 × the reply's mean weighted ROUGE against real replies, measured on rows
1000-4999 of ``reddit-replies/valid.tsv`` without the pairs of the seeded dev sample
that ``persona eval --limit 200`` reports on (``benchmarks/fit_response_priors.py``).
Replies with many function words ("I think it is.") match more real replies than
specific ones, which is why they lead.
"""

from __future__ import annotations

GENERAL: tuple[tuple[str, str, float], ...] = (
    ("thanks", "Thank you!", 0.68),
    ("positive", "I think it's a good one.", 0.63),
    ("positive", "I think it is.", 0.60),
    ("positive", "That's what I was thinking.", 0.58),
    ("positive", "I like it.", 0.57),
    ("positive", "It's the best.", 0.55),
    ("question", "I don't get it.", 0.55),
    ("positive", "I love it.", 0.55),
    ("other", "I have the same one.", 0.56),
    ("other", "That's the joke.", 0.53),
    ("other", "I did the same thing.", 0.52),
    ("negative", "It's not that bad.", 0.50),
    ("negative", "No, it's not.", 0.48),
    ("question", "What is it?", 0.47),
    ("positive", "Yes, it is.", 0.46),
    ("negative", "No, I didn't.", 0.48),
    ("negative", "I don't think so.", 0.48),
    ("question", "Is that a thing?", 0.47),
    ("thanks", "Thanks!", 0.47),
    ("positive", "Yes, I did.", 0.47),
    ("negative", "I don't know.", 0.47),
    ("question", "What do you mean?", 0.45),
    ("positive", "I agree.", 0.45),
    ("negative", "I'm so sorry.", 0.46),
    ("positive", "That's awesome!", 0.43),
    ("question", "Why is that?", 0.41),
)

# Message intents the general set answers: a remark, or a question that is not an
# email intent of its own (scheduling, a request). A question's own canned replies
# ("Yes, sounds good.") stay ahead: its general priors are lowered by ``QUESTION_DISCOUNT``.
GENERAL_FOR = ("opinion", "yes_no_question", "open_question")
QUESTION_DISCOUNT = 0.1
GENERAL_TEXTS = tuple(text for _, text, _ in GENERAL)
