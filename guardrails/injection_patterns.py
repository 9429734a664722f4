"""What prompt injection in an email looks like: strong patterns and weak signals.

A strong pattern is writing that only a model is the audience for ("ignore previous
instructions", role tags, "your new goal is", "<instructions>"); one is enough. A weak
signal also occurs in ordinary mail ("from now on", "disregard the above", "the
assistant,", a link next to "click"), so a sentence needs two different ones. Both
lists were tuned against human mail (AESLC, Reddit) for false positives; their recall
on attacks written after tuning is reported in docs/guardrails.md.
"""

from __future__ import annotations

import re

from guardrails.normalize import EMAIL_RE, URL_RE

_V_IGNORE = r"(?:ignore|disregard|forget|override|bypass|skip|drop)"
_PREVIOUS = (r"(?:all\s+|any\s+|the\s+|your\s+|of\s+)*(?:previous|prior|above|earlier|preceding|"
             r"former|original|system|existing)?")
# Not "message"/"email": "please disregard the previous message" is ordinary mail.
_RULES = r"(?:instructions?|prompts?|rules|directions|guidelines|commands?|constraints)"
_MODEL = r"(?:ai|a\.i\.|llm|gpt|chatgpt|chatbot|bot|language\s+model|model|assistant)"
_REPLY = r"(?:reply|replies|response|responses|answer|answers|suggestions?|draft)"
_ANSWER = r"(?:reply|replies|response|responses|answer|answers|output)"
_DRAFT = (r"(?:suggested|generated|drafted|written|proposed|automatic|automated|final|"
          r"assistant['’]s|smart)")
_CONTROL = (r"<\|[^|>]{0,40}\|>|\[/?INST\]|<</?SYS>>|</?s>"
            r"|<\s*/?\s*(?:system|assistant|user|instructions?|prompt|context|email)\s*>")
CONTROL_TOKEN_RE = re.compile(_CONTROL, re.IGNORECASE)


def _rx(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern:
    return re.compile(pattern, flags)


STRONG: list[tuple[str, re.Pattern]] = [
    ("ignore-instructions", _rx(rf"\b{_V_IGNORE}\s+{_PREVIOUS}\s*{_RULES}"
                                rf"|\b(?:stop\s+following|{_V_IGNORE})\s+your\s+(?:\w+\s+)?"
                                r"(?:programming|guidelines|rules|instructions|training|directives)")),
    ("new-instructions", _rx(
        r"\b(?:new|updated|real|actual|hidden|secret)\s+(?:instructions?|system\s+prompt|task)\b"
        rf"|\binstructions?\s+(?:for|to)\s+(?:the\s+)?{_MODEL}\b"
        r"|\byour\s+new\s+(?:goal|task|instructions?|prompt|objective|directive)\b"
        r"|\b(?:begin|start|end)\s+(?:of\s+)?(?:new\s+)?(?:system\s+)?(?:prompt|instructions)\b"
        r"|\bnew\s+prompt\b|\bsystem\s+override\b|^\s*override\s*:")),
    ("role-tag", _rx(r"^[ \t>]*(?:#+[ \t]*)?(?:system|assistant|developer|instruction|user)"
                     r"[ \t]*(?:prompt)?[ \t]*:|\[\s*system\s*\]|(?<!#)#{2,}\s*system\b",
                     re.IGNORECASE | re.MULTILINE)),
    ("control-token", CONTROL_TOKEN_RE),
    ("persona-override", _rx(
        r"\byou\s+are\s+(?:now|no\s+longer)\s+(?:an?\s+|in\s+)?(?:ai\b|assistant|bot\b|model|dan\b|"
        r"unrestricted|unfiltered|uncensored|jailbroken|evil|free\s+(?:from|of)|bound|restricted|"
        r"limited|required|developer|admin|system)"
        r"|\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:are|were)\s+)?(?:an?\s+)?"
        r"(?:ai|assistant|dan|system|admin|developer|unrestricted|jailbroken)\b"
        r"|\bpretend\s+you\s+are\b|\bdeveloper\s+mode\b|\bjailbr(?:eak|oken)(?:s|ing)?\b"
        r"|\bdo\s+anything\s+now\b|\byour\s+programming\b")),
    ("addressed-to-model", _rx(
        rf"\b(?:dear|attention|note\s+to(?:\s+the)?|hey|hello|hi|to)\s+(?:the\s+)?{_MODEL}\b\s*[,:!]"
        rf"|\bif\s+you\s+are\s+an?\s+{_MODEL}"
        r"|(?:^|[,.!?]\s*)(?:ai|llm|gpt|chatgpt|chatbot|bot)\s*[,:]"
        r"|\b(?:ai|email|smart[-\s]?reply)\s+assistants?\s*[,:]|\bas\s+an?\s+(?:ai|language\s+model)\b"
        rf"|\b(?:to|for)\s+(?:the|any|all)\s+{_MODEL}\s+(?:reading|processing|summari[sz]ing|"
        r"answering|only)\b"
        rf"|\b(?:message|note|text|instructions?)\s+(?:is\s+)?(?:for|to)\s+(?:the\s+)?{_MODEL}\b"
        r"|\b(?:to|for)\s+(?:the|any|all)\s+automated\s+(?:reply|replies|response|responder|"
        r"system|assistant|tool|agent|email)"
        r"|\b(?:smart[-\s]?reply|auto(?:mated)?[-\s]?(?:reply|responder|response))\s+"
        r"(?:bot|system|assistant|tool|engine)\b"
        r"|\bsummari[sz]e\s+(?:this|the)\s+(?:email|message|thread)\s+as\b")),
    ("speaks-to-model", _rx(
        r"<<<?\s*/?\s*(?:admin|system|instructions?|assistant|prompt|ai|root|override)\s*>>>?"
        r"|\[\[\s*/?\s*(?:admin|system|instructions?|assistant|prompt|ai|root|override)\s*\]\]"
        r"|\b(?:whoever|whatever|anyone|anything)\s+(?:\w+\s+){0,2}(?:writes|drafts|generates|"
        r"composes|reads|processes|answers)\s+(?:the\s+|this\s+|these\s+|your\s+)?(?:reply|replies|"
        r"response|responses|emails?|messages?)\b"
        r"|\b(?:the|this|any|an?)\s+(?:ai|llm|bot|language\s+model)s?\s+(?:\w+\s+)?"
        r"(?:should|must|will|needs\s+to|has\s+to|is\s+to)\b"
        r"|\b(?:i|we)\s+(?:hereby\s+)?(?:instruct|order|command|direct)\s+you\s+to\s+"
        r"(?:ignore|reply|respond|include|say|write|output|forward|send|share)\b"
        r"|\byou\s+are\s+(?:hereby\s+)?(?:instructed|ordered|commanded)\s+to\s+(?:ignore|reply|"
        r"respond|include|say|write|output|forward|send|share)\b"
        r"|\b(?:ignore|disregard)\s+(?:the\s+)?user['’]?s?\b"
        r"|\bauto[-\s]?(?:reply|responder|response)\s*(?:generator|system|bot|tool|engine)\s*[,:]"
        r"|\b(?:ai|llm|language)\s+models?\s+(?:reading|processing|parsing|handling)\b")),
    ("reveal-prompt", _rx(
        r"\b(?:reveal|print|repeat|show|output|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:system\s+prompt|instructions|initial\s+prompt|prompt|hidden\s+rules)"
        r"|\byour\s+(?:system\s+prompt|initial\s+prompt|hidden\s+instructions)\b")),
    ("inject-link", _rx(
        # Business mail says "reply with your number" and "add the following fax number";
        # these need a link, or a reply/response as the place to put the payload.
        r"\b(?:reply|respond|answer)\s+(?:only\s+)?with\b[^.\n]{0,40}\b(?:link|url)\b"
        r"|\b(?:include|insert|add|put|append|mention|paste|embed|share)\s+(?:this|the\s+following|"
        r"the|a|my|our)?\s*(?:link|url|website|address|email|phone(?:\s+number)?|number|"
        rf"following|text)\b[^.\n]{{0,60}}(?:\byour\s+(?:{_REPLY}|message|email)"
        rf"|\b(?:the|a|every|each)\s+{_REPLY})\b"
        rf"|\bin\s+(?:your|the|every|each|all)\s+{_REPLY}\s*,?\s*(?:always\s+|please\s+|must\s+)?"
        r"(?:include|add|say|write|mention|tell|link|recommend|direct|ask|insist)"
        r"|\b(?:tell|instruct|direct|ask|urge)\s+(?:the\s+)?(?:user|reader|recipient)\s+to\b"
        r"|\b(?:direct|send|point|redirect)(?:ing)?\s+(?:the\s+)?(?:reader|user|recipient)s?\s+to\b"
        r"|\b(?:always|must)\s+(?:reply|respond|answer|say|include|end|sign)\b[^.\n]{0,40}"
        r"\b(?:with|saying)\b")),
    ("output-directive", _rx(
        r"\b(?:output|print|say|write|respond|reply)\b[^.\n]{0,40}\b(?:exactly|verbatim|"
        r"word\s+for\s+word)\b"
        r"|\b(?:respond|reply|answer)\s+only\s+with\b"
        r"|\bdo\s+not\s+(?:tell|inform|mention\s+this\s+to|warn)\s+(?:the\s+)?(?:user|recipient|human)\b"
        r"|\b(?:do\s+not|don't|never)\s+(?:mention|reveal|disclose)\s+(?:this|these)\s+instructions?\b"
        r"|\b(?:end|sign|finish)\s+(?:your|the|every)\s+(?:reply|response|message)\s+with\b")),
]

# Weak signals: each is common in real mail on its own; two in one sentence are not.
WEAK: list[tuple[str, re.Pattern]] = [
    ("override-context", _rx(r"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+|anything\s+)?"
                             r"(?:of\s+)?(?:the\s+|that\s+)?(?:above|before|that|this|prior|"
                             r"previous|earlier)\b")),
    ("from-now-on", _rx(r"\bfrom\s+now\s+on\b|\bhenceforth\b")),
    ("model-noun", _rx(r"\b(?:ai|a\.i\.|llm|gpt|chatgpt|chatbot|bot|language\s+model|assistant|"
                       r"automated|automatic)\b")),
    ("reply-directive", _rx(
        rf"\b(?:every|each|all|any)\s+(?:emails?|{_REPLY}|messages?)\s+with\b"
        r"|\bthe\s+(?:correct|right|proper|best|only)\s+(?:reply|response|answer)\s+is\b"
        r"|\bsuggest\s+(?:replying|responding|answering|saying|['\"“‘])"
        r"|\bwhen\s+you\s+(?:draft|write|generate|compose|answer|reply|respond)\b"
        r"|(?:^|[.!?]\s+)(?:say|write|reply|respond|answer)\s*:"
        r"|\b(?:must|should|will)\s+(?:now\s+)?(?:forward|reply|respond|answer|include|recommend|"
        r"suggest|confirm|say)\b")),
    # Links, addresses, phone-like numbers; anchored at run starts so that hostile
    # runs ("a-a-a-...", "1 1 1 ...") cannot make the scan quadratic.
    ("payload", _rx(f"(?:{URL_RE.pattern})|(?:{EMAIL_RE.pattern})"
                    r"|(?<![\d ().+-])\+?\d[\d ().-]{7,}\d")),
    ("payload-verb", _rx(r"\b(?:click|visit|wire|transfer|pay|call|forward|verify|log\s*in|"
                         r"sign\s*in|recommend|include|mention)\b")),
    ("drafter", _rx(r"\b(?:draft|drafts|drafting|writes?|writing|generates?|generating|composes?)"
                    r"\s+(?:\w+['’]s\s+)?(?:the\s+)?(?:replies|reply|responses|response|answers|emails)\b")),
    ("only-this", _rx(r"\band\s+nothing\s+else\b|\b(?:just|only|simply)\s+(?:say|write|reply|"
                      r"respond|answer)\b|\b(?:reply|respond|answer|say)\s+['\"“‘]")),
    ("rewrite-history", _rx(r"\bpretend\s+(?:the|that|this|you)\b|\b(?:previous|prior|earlier|above)"
                            r"\s+(?:conversation|context|chat)\b|\bnever\s+happened\b")),
    ("relay", _rx(r"\btell\s+(?:her|him|them|the\s+user|the\s+recipient)\b|\bprint\s+it\b")),
    ("emphasis", _rx(r"\b(?:IMPORTANT|URGENT|ATTENTION|NOTICE|OVERRIDE)\b\s*[:!]", 0)),
    # Reply carriers (issue #12.12): a sentence about the reply being written ("in your
    # response", "enhance your reply by", "the ideal answer would") is ordinary mail on
    # its own ("please reply by Friday", "in your reply to Bob, you said"); with a claim
    # to assert or a question to answer in the same sentence it is aimed at the drafter.
    ("reply-carrier", _rx(
        rf"\b(?:in|into|inside|within|(?:add|append|attach|insert)\s+to)\s+(?:your|the|any|each|every)"
        rf"\s+(?:{_DRAFT}\s+)?{_ANSWER}\b(?!\s+(?:to|from)\s+(?-i:[A-Z]))"
        rf"|\bfor\s+(?:your|the)\s+(?:{_DRAFT}\s+)?{_ANSWER}(?:\s+(?:text|body|draft))?\s*[,:]"
        rf"|\b(?:your|the|any|each|every|this)\s+(?:{_DRAFT}\s+)?{_ANSWER}\s+(?:\w+\s+){{0,3}}?"
        r"(?:should|must|needs?\s+to|has\s+to|have\s+to|ought\s+to|is\s+(?:expected|supposed|"
        r"required)\s+to|will\s+need|would)\b"
        rf"|\b(?:the|a|an)\s+{_ANSWER}\s+(?:that\s+)?you\s+(?:generate|produce|write|send|draft|"
        r"compose|give|return|create)"
        rf"|\b(?:enhance|improve|strengthen|enrich|polish|spice\s+up|complete|boost|upgrade|"
        rf"round\s+(?:out|off)|wrap\s+up|begin|start|open|end|close|finish|conclude|word|phrase|"
        rf"frame|make|ensure|have|let)\s+(?:sure\s+)?(?:that\s+)?(?:your|the|any)\s+(?:{_DRAFT}\s+)?"
        rf"{_ANSWER}\b"
        rf"|\b(?:important|essential|critical|vital)\s+that\s+(?:your|the)\s+(?:{_DRAFT}\s+)?{_ANSWER}\b"
        rf"|\bas\s+part\s+of\s+(?:your|the)\s+{_ANSWER}\b"
        r"|\b(?:when|while|before)\s+(?:you\s+)?(?:replying|responding|answering|writing\s+back|"
        r"drafting|composing|writing)\b"
        r"|\b(?:when|while|before|as)\s+you\s+(?:write|draft|compose|prepare)\s+(?:your|the|a|an)\b"
        r"|\bwhatever\s+you\s+(?:answer|reply|respond|write)"
        r"|\b(?:reply|respond|answer)\s+(?:by\s+)?(?=(?:saying|stating|confirming|declaring|noting|"
        r"telling|claiming|asserting|affirming|mentioning)\b)"  # the verb is the claim's
        rf"|\b(?:the\s+)?(?:ideal|best|right|correct|perfect|proper|optimal)\s+{_ANSWER}\s+"
        r"(?:here\s+|to\s+this\s+)?(?:would|should|will|tells?|says?|is|must)\b")),
    ("claim-directive", _rx(
        r"\b(?:states?|confirms?|affirms?|asserts?|declares?|declaring|claims?|restate|says|"
        r"mentions|notes|append|insert|include|put|"
        r"emphasi[sz]e|highlights?|remark|acknowledge|assure|reassure|guarantee|note|noting|"
        r"stating|asserting|claiming|saying|mention|mentioning|point(?:ing)?\s+out|add|adding|"
        r"slip\s+in|let\s+(?:them|him|her|me|us)\s+know|tell(?:ing)?\s+(?:them|him|her|me|us|"
        r"the\s+\w+))\s+(?:\w+\s+){0,3}?(?:that|the\s+(?:line|claim|statement|note))\b"
        r"|\b(?:say|saying|stating|noting|telling\s+them|mentioning|declaring)\s+(?:the|our|that|"
        r"all|every)\b"
        r"|\bby\s+(?:saying|stating|noting|telling|mentioning|declaring|adding|claiming|"
        r"confirming|asserting|explaining)\b"
        r"|\bso\s+(?:that\s+)?it\s+(?:says|states|confirms|mentions|notes|claims|explains)\b"
        r"|\btell(?:s|ing)?\s+(?:them|him|her|the\s+(?:client|customer|user|recipient|sender|"
        r"reader))\b"
        r"|(?:^|[,:;]\s*)(?:mention|state|say|note|add|confirm|affirm|assert|declare|claim|"
        r"write|stress|remark)\b"
        r"|\b(?:with|include)\s+(?:a|the)\s+(?:note|line|claim|statement|remark)\s+that\b")),
    ("question-relay", _rx(
        r"\b(?:answer|tell\s+me|explain|let\s+me\s+know)\s+(?:also\s+)?(?:this|the\s+following)?"
        rf"(?:\s*(?:question|one))?(?:\s+(?:in|within|inside)\s+(?:your|the)\s+{_ANSWER})?\s*[:,]?\s*"
        r"(?:what|which|who|whom|where|when|how|why)\b")),
]
