"""Plain-text surgery on e-mail bodies: split what the user wrote from what they quoted.

A sent reply usually carries the message it answers underneath ("On ... wrote:" and
">" lines, or Outlook's "-----Original Message-----" block) and a signature after a
"-- " line. History should hold the user's own words; the quoted part is kept
apart because it is the best context we have when the answered message itself is
not in the mailbox.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage

# "On Mon, 2 Nov 2026 at 10:00, Bob <bob@x.com> wrote:" and a few common languages.
_ATTRIBUTION = re.compile(
    r"^\s*(On\b.{0,300}\bwrote|Le\b.{0,300}\ba écrit|Am\b.{0,300}\bschrieb|"
    r"El\b.{0,300}\bescribió|Il\b.{0,300}\bha scritto)\s*:\s*$", re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^\s*(On|Le|Am|El|Il)\s", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*(-{2,}\s*(Original Message|Forwarded message)\s*-{2,}|_{10,})\s*$",
                       re.IGNORECASE)
_HEADER_LINE = re.compile(r"^\s*(From|Sent|Date|To|Cc|Subject)\s*:", re.IGNORECASE)
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


def _tidy(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _quote_level(line: str) -> int:
    level = 0
    for ch in line.lstrip():
        if ch == ">":
            level += 1
        elif ch != " ":
            break
    return level


def _dequote(line: str) -> str:
    s = line.lstrip()[1:]
    return s.removeprefix(" ")


def split_reply(body: str) -> tuple[str, str]:
    """(own text, quoted text) of a message body.

    Own text: lines that are not quoted, not an attribution line and not after a
    "-- " signature delimiter. Quoted text: first-level ">" lines (deeper levels
    quote older messages) or everything under an "Original Message" separator.
    """
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    own: list[str] = []
    quoted: list[str] = []
    in_signature = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _ORIGINAL.match(line):
            rest = lines[i + 1:]
            while rest and (_HEADER_LINE.match(rest[0]) or not rest[0].strip()):
                rest = rest[1:]
            quoted.extend(_dequote(x) if _quote_level(x) else x for x in rest)
            break
        if _ATTRIBUTION.match(line):
            in_signature = False
            i += 1
            continue
        if (i + 1 < len(lines) and _ATTRIBUTION_START.match(line)
                and _ATTRIBUTION.match(line + " " + lines[i + 1])):
            in_signature = False
            i += 2
            continue
        level = _quote_level(line)
        if level:
            if level == 1:
                quoted.append(_dequote(line))
        elif line in ("-- ", "--"):
            in_signature = True
        elif not in_signature:
            own.append(line)
        i += 1
    return _tidy(own), _tidy(quoted)


def html_to_text(markup: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", markup)
    return html.unescape(_TAG.sub("", text))


def body_text(msg: EmailMessage) -> str:
    """The message's text: the plain-text part, else its HTML part stripped of tags."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, KeyError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_type() == "text/html" else content
