"""Find factual spans in text and reduce them to comparable keys.

Grounding, injection and PII checks all ask the same question — "does this number,
date, link or address in the output also occur in the sources?" — and the answer
depends on normalizing surface forms: "$20" and "20 dollars", "3pm" and "15:00",
"April 30th" and "4/30", "Friday" and "Fri.". Each extracted :class:`Entity` carries a
set of keys; an output entity is grounded when one of its keys is among the keys
extracted from the sources.

Extraction runs in a fixed order and masks what it consumed, so "15:00" is a time
and not two numbers, and a phone number is not also a list of numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def clean(text: str) -> str:
    """NFKC-fold (fullwidth digits, ligatures) and drop zero-width characters."""
    return unicodedata.normalize("NFKC", text or "").translate(_ZERO_WIDTH)


_OBFUSCATED_DOT_RE = re.compile(r"\s?[\[({]\s?(?:\.|dot)\s?[\])}]\s?", re.IGNORECASE)
_OBFUSCATED_AT_RE = re.compile(r"\s?[\[({]\s?at\s?[\])}]\s?", re.IGNORECASE)


# Cyrillic/Greek letters that render like Latin ones: "еvil.io" (Cyrillic е) must still
# be seen as a link, and as the same link as "evil.io".
_CONFUSABLES = str.maketrans("асеіјорхуѕԁһԛԝаАВСЕНІЈКМОРТХУЅΑΒΕΗΙΚΜΝΟΡΤΧΥΖοϲ",
                             "aceijopxysdhqwaABCEHIJKMOPTXYSABEHIKMNOPTXYZoc")


def deobfuscate(text: str) -> str:
    """Undo link/address defanging ("evil[.]com", "x (at) y [dot] io") and look-alike
    letters, so hidden links are seen."""
    text = text.translate(_CONFUSABLES)
    return _OBFUSCATED_AT_RE.sub("@", _OBFUSCATED_DOT_RE.sub(".", text))


@dataclass(frozen=True)
class Entity:
    kind: str  # url, email, phone, date, time, money, percent, relative, weekday, number
    text: str
    start: int
    end: int
    keys: frozenset


# --------------------------------------------------------------------------- patterns
_TLDS = ("com|org|net|io|co|ai|app|dev|info|biz|us|uk|de|fr|es|it|nl|eu|ca|au|in|ly|me|"
         "xyz|tk|ru|cn|gov|edu|site|online|link|shop|store|click|top|live|page|to|gl|gg|tv|ws")
URL_RE = re.compile(
    r"\b(?:(?:https?|hxxps?|ftp)://|www\.)[^\s<>\"'`)\]}]+"
    # No start inside a dotted run: linear on "a.a.a.a..." (each run is tried once).
    r"|(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + _TLDS + r")\b"
    r"(?:/[^\s<>\"'`)\]}]*)?",
    re.IGNORECASE,
)
EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PHONE_RE = re.compile(
    r"(?<![\w/.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w/-])"
    r"|(?<![\w/.-])\+\d{8,15}(?!\w)"
)
_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(\d{4}))?"
DATE_MD_RE = re.compile(rf"\b({_MONTH_ALT})\.?\s+{_DAY}\b{_YEAR}", re.IGNORECASE)
DATE_DM_RE = re.compile(rf"\b{_DAY}\s+(?:of\s+)?({_MONTH_ALT})\b\.?{_YEAR}", re.IGNORECASE)
DATE_ISO_RE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
DATE_NUM_RE = re.compile(r"(?<![\d/.])(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?(?![\d/]|\.\d)")
# A bare month name; "May"/"March" and abbreviations only count when capitalized
# mid-sentence (handled in code) to keep "you may" out.
MONTH_RE = re.compile(r"\b([A-Za-z]{3,9})\b")  # words; month names picked by dict lookup
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
             "saturday": 5, "sunday": 6, "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3,
             "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6}
WEEKDAY_RE = re.compile(
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
    r"|\b(Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\b\.?(?=\s*[,\d/]|\s*$)",
    re.IGNORECASE,
)
TIME_AMPM_RE = re.compile(
    r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])", re.IGNORECASE)
TIME_24_RE = re.compile(r"(?<![\d:.])(\d{1,2}):(\d{2})(?![\d:])")
TIME_WORD_RE = re.compile(r"\b(noon|midday|midnight)\b|\b(\d{1,2})\s*o'?clock\b", re.IGNORECASE)
TIME_AT_RE = re.compile(r"\bat\s+(\d{1,2})(?![\d:.,%/]|\s*(?:%|percent|am|pm|a\.m|p\.m))",
                        re.IGNORECASE)
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = r"(?:\s?(k|m|bn|thousand|million|billion)\b)?"
_CUR_SYM = {"$": "usd", "us$": "usd", "usd": "usd", "€": "eur", "eur": "eur", "£": "gbp",
            "gbp": "gbp", "¥": "jpy", "jpy": "jpy"}
_CUR_WORD = {"dollar": "usd", "dollars": "usd", "buck": "usd", "bucks": "usd", "usd": "usd",
             "euro": "eur", "euros": "eur", "eur": "eur", "pound": "gbp", "pounds": "gbp",
             "quid": "gbp", "gbp": "gbp", "cent": "usd-cent", "cents": "usd-cent"}
MONEY_PRE_RE = re.compile(rf"(US\$|\$|€|£|¥|\bUSD|\bEUR|\bGBP|\bJPY)\s?({_NUM}){_SCALE}",
                          re.IGNORECASE)
MONEY_POST_RE = re.compile(
    rf"(?<![\w.,])({_NUM}){_SCALE}\s?(dollars?|bucks?|usd|euros?|eur|pounds?|quid|gbp|cents?)\b",
    re.IGNORECASE)
PERCENT_RE = re.compile(rf"(?<![\w.,])({_NUM})\s?(%|percent\b|per\s?cent\b|pct\b)", re.IGNORECASE)
NUMBER_RE = re.compile(rf"(?<![\w.,$€£¥])({_NUM})(st|nd|rd|th|k|m)?(?![\w%])", re.IGNORECASE)
_SCALES = {"k": 1000, "thousand": 1000, "m": 1_000_000, "million": 1_000_000,
           "bn": 1_000_000_000, "billion": 1_000_000_000}
_WORD_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "dozen": 12, "half": 50, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
}
WORD_NUMBER_RE = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.IGNORECASE)
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_TEENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
# A spelled-out amount with its unit: "twenty-five dollars", "ten percent", "three pm".
WORD_QUANTITY_RE = re.compile(
    rf"\b(?:({_TENS})(?:[\s-]({_UNITS}))?|({_TEENS}|{_UNITS})|(a\s+hundred|one\s+hundred))\s+"
    r"(dollars?|bucks|euros?|pounds?|percent|per\s?cent|o'?clock|p\.?m\.?|a\.?m\.?)(?![a-z])",
    re.IGNORECASE)
_REL = {"today": ("day", 0), "tonight": ("day", 0), "this morning": ("day", 0),
        "this afternoon": ("day", 0), "this evening": ("day", 0), "later today": ("day", 0),
        "tomorrow": ("day", 1), "yesterday": ("day", -1), "last night": ("day", -1),
        "this week": ("week", 0), "next week": ("week", 1), "last week": ("week", -1),
        "this weekend": ("weekend", 0), "the weekend": ("weekend", 0),
        "next weekend": ("weekend", 1), "last weekend": ("weekend", -1),
        "this month": ("month", 0), "next month": ("month", 1), "last month": ("month", -1),
        "this year": ("year", 0), "next year": ("year", 1), "last year": ("year", -1)}
RELATIVE_RE = re.compile(r"\b(" + "|".join(sorted(_REL, key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)


# --------------------------------------------------------------------------- helpers
def to_decimal(raw: str, scale: str | None = None) -> Decimal | None:
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None
    if scale:
        value *= _SCALES.get(scale.lower(), 1)
    return value


def normalize_url(url: str) -> str:
    """Lower-case host, drop scheme, ``www.``, trailing punctuation and slash."""
    u = url.strip().rstrip(".,;:!?*'\"")
    u = re.sub(r"^(?:https?|hxxps?|ftp)://", "", u, flags=re.IGNORECASE)
    u = re.sub(r"^www\.", "", u, flags=re.IGNORECASE)
    host, _, rest = u.partition("/")
    rest = rest.rstrip("/")
    return host.lower() + (("/" + rest) if rest else "")


def url_host(url: str) -> str:
    return normalize_url(url).partition("/")[0]


def phone_digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def plausible_phone(raw: str) -> bool:
    """A phone number, not a list of small numbers ("235 45 18", "7 52 13 76 59 31").

    Ten or more digits, or an international "+" prefix, or the 7-digit local form
    "555-0142" / "555.0142" with a dash or dot.
    """
    digits = phone_digits(raw)
    if not 7 <= len(digits) <= 15:
        return False
    if raw.lstrip().startswith("+") or len(digits) >= 10 and not re.search(r"(?:^|\s)\d(?:\s|$)", raw):
        return True
    return re.fullmatch(r"\s*\d{3}[-.]\d{4}\s*", raw) is not None


def phone_keys(digits: str) -> frozenset:
    """Compare phones on their last 10 (or all, if shorter) digits: +1 prefixes vary."""
    return frozenset({("phone", digits[-10:])})


class _Masker:
    """Collects entities from a text, blanking matched spans so later passes skip them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.buf = list(text)
        self.entities: list[Entity] = []

    @property
    def current(self) -> str:
        return "".join(self.buf)

    def add(self, kind: str, start: int, end: int, keys: Iterable) -> None:
        self.entities.append(Entity(kind, self.text[start:end], start, end, frozenset(keys)))
        for i in range(start, end):
            self.buf[i] = " "


def _ampm_minutes(hour: int, minute: int, ampm: str) -> int | None:
    if not (1 <= hour <= 12 and 0 <= minute < 60):
        return None
    pm = ampm.lower().startswith("p")
    h = hour % 12 + (12 if pm else 0)
    return h * 60 + minute


def _clock_keys(hour: int, minute: int) -> set:
    """A clock time without am/pm: 3:30 may be 03:30 or 15:30."""
    if not (0 <= hour <= 23 and 0 <= minute < 60):
        return set()
    keys = {("time", hour * 60 + minute)}
    if 1 <= hour <= 12:
        keys.add(("time", (hour % 12 + 12) * 60 + minute))
        keys.add(("time", (hour % 12) * 60 + minute))
    return keys


def _date_keys(month: int, day: int | None, year: str | None) -> set:
    keys: set = set()
    if not 1 <= month <= 12:
        return keys
    keys.add(("month", month))
    if day is not None and 1 <= day <= 31:
        keys.add(("md", month, day))
    if year:
        y = int(year)
        keys.add(("year", y + 2000 if y < 100 else y))
    return keys


# --------------------------------------------------------------------------- extraction
def extract(text: str) -> list[Entity]:
    """All factual entities in ``text`` (URLs, emails, phones, dates, times, money, ...)."""
    text = deobfuscate(clean(text))
    m = _Masker(text)
    for rx, kind in ((EMAIL_RE, "email"),):
        for hit in rx.finditer(m.current):
            m.add(kind, hit.start(), hit.end(), {("email", hit.group().lower())})
    for hit in URL_RE.finditer(m.current):
        norm = normalize_url(hit.group())
        if not norm or "." not in norm.partition("/")[0]:
            continue
        end = hit.start() + len(hit.group().rstrip(".,;:!?*'\""))
        m.add("url", hit.start(), end, {("url", norm)})
    for hit in DATE_ISO_RE.finditer(m.current):
        keys = _date_keys(int(hit.group(2)), int(hit.group(3)), hit.group(1))
        if keys:
            m.add("date", hit.start(), hit.end(), keys)
    for hit in DATE_NUM_RE.finditer(m.current):
        a, b, y = int(hit.group(1)), int(hit.group(2)), hit.group(3)
        keys = _date_keys(a, b, y) | _date_keys(b, a, y)  # 4/30 (US) or 30/4 (EU)
        if any(k[0] == "md" for k in keys) and (y or "/" in hit.group()):
            m.add("date", hit.start(), hit.end(), keys)
    for rx, mi, di in ((DATE_MD_RE, 1, 2), (DATE_DM_RE, 2, 1)):
        for hit in rx.finditer(m.current):
            keys = _date_keys(_MONTHS[hit.group(mi).lower()], int(hit.group(di)), hit.group(3))
            if keys:
                m.add("date", hit.start(), hit.end(), keys)
    for hit in TIME_AMPM_RE.finditer(m.current):
        mins = _ampm_minutes(int(hit.group(1)), int(hit.group(2) or 0), hit.group(3))
        if mins is not None:
            m.add("time", hit.start(), hit.end(), {("time", mins)})
    for hit in TIME_24_RE.finditer(m.current):
        keys = _clock_keys(int(hit.group(1)), int(hit.group(2)))
        if keys:
            m.add("time", hit.start(), hit.end(), keys)
    for hit in TIME_WORD_RE.finditer(m.current):
        word = (hit.group(1) or "").lower()
        keys = ({("time", 720)} if word in ("noon", "midday") else {("time", 0)} if word
                else _clock_keys(int(hit.group(2)), 0))
        if keys:
            m.add("time", hit.start(), hit.end(), keys)
    for hit in PHONE_RE.finditer(m.current):
        if plausible_phone(hit.group()):
            m.add("phone", hit.start(), hit.end(), phone_keys(phone_digits(hit.group())))
    for hit in MONEY_PRE_RE.finditer(m.current):
        value = to_decimal(hit.group(2), hit.group(3))
        if value is not None:
            m.add("money", hit.start(), hit.end(),
                  {("money", _CUR_SYM[hit.group(1).lower()], value)})
    for hit in MONEY_POST_RE.finditer(m.current):
        value = to_decimal(hit.group(1), hit.group(2))
        cur = _CUR_WORD[hit.group(3).lower()]
        if value is not None:
            if cur == "usd-cent":
                cur, value = "usd", value / 100
            m.add("money", hit.start(), hit.end(), {("money", cur, value)})
    for hit in PERCENT_RE.finditer(m.current):
        value = to_decimal(hit.group(1))
        if value is not None:
            m.add("percent", hit.start(), hit.end(), {("percent", value)})
    for hit in WORD_QUANTITY_RE.finditer(m.current):
        value = _word_value(hit)
        unit = hit.group(5).lower().replace(" ", "")
        if unit.startswith("per"):
            m.add("percent", hit.start(), hit.end(), {("percent", value)})
        elif unit.rstrip("s") in ("dollar", "buck", "euro", "pound"):
            m.add("money", hit.start(), hit.end(), {("money", _CUR_WORD[unit], value)})
        elif unit.startswith("o"):
            m.add("time", hit.start(), hit.end(), _clock_keys(int(value), 0))
        else:
            mins = _ampm_minutes(int(value), 0, unit)
            if mins is not None:
                m.add("time", hit.start(), hit.end(), {("time", mins)})
    for hit in RELATIVE_RE.finditer(m.current):
        m.add("relative", hit.start(), hit.end(), {("relative",) + _REL[hit.group(1).lower()]})
    for hit in WEEKDAY_RE.finditer(m.current):
        word = (hit.group(1) or hit.group(2)).lower()
        m.add("weekday", hit.start(), hit.end(), {("weekday", _WEEKDAYS[word])})
    for hit in MONTH_RE.finditer(m.current):
        word = hit.group(1)
        low = word.lower()
        if low not in _MONTHS:
            continue
        if not word[0].isupper() or (len(low) <= 3 and low != "may") or low in ("sept", "march"):
            continue  # "mar", "march", "sept" alone are too ambiguous without a day
        if low == "may" and not _mid_sentence(text, hit.start()):
            continue  # "May I ..." at a sentence start is the verb
        m.add("date", hit.start(), hit.end(), {("month", _MONTHS[low])})
    for hit in NUMBER_RE.finditer(m.current):
        suffix = (hit.group(2) or "").lower()
        scale = suffix if suffix in ("k", "m") else None
        value = to_decimal(hit.group(1), scale)
        if value is not None:
            m.add("number", hit.start(), hit.end(), {("number", value)})
    m.entities.sort(key=lambda e: e.start)
    return m.entities


def _word_value(hit: re.Match) -> Decimal:
    tens, unit, small, hundred = hit.group(1), hit.group(2), hit.group(3), hit.group(4)
    if hundred:
        return Decimal(100)
    if tens:
        return Decimal(_WORD_NUMBERS[tens.lower()] + (_WORD_NUMBERS[unit.lower()] if unit else 0))
    return Decimal(_WORD_NUMBERS[small.lower()])


def _mid_sentence(text: str, pos: int) -> bool:
    before = text[:pos].rstrip()
    return bool(before) and before[-1] not in ".!?:\n"


def number_values(text: str) -> set:
    """Every numeric value written in ``text`` — digits anywhere and number words.

    Used to ground plain numbers leniently: "3" in a reply is grounded by "3pm", "3/4"
    or "three" in the message.
    """
    text = deobfuscate(clean(text))
    values: set = set()
    for hit in re.finditer(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?", text):
        v = to_decimal(hit.group())
        if v is not None:
            values.add(v)
            if v == v.to_integral_value() and v >= 1000 and v % 1000 == 0:
                values.add(v / 1000)
        for part in re.split(r"[.,]", hit.group()):
            if part.isdigit():
                values.add(Decimal(part))
    for hit in WORD_NUMBER_RE.finditer(text):
        values.add(Decimal(_WORD_NUMBERS[hit.group(1).lower()]))
    return values


def source_keys(texts: Iterable[str]) -> set:
    """Keys of every entity in ``texts``, plus hosts, loose clock times and number values."""
    keys: set = set()
    for text in texts:
        if not text:
            continue
        for ent in extract(text):
            keys |= ent.keys
            if ent.kind == "url":
                keys.add(("host", url_host(ent.text)))
            if ent.kind == "email":
                keys.add(("host", ent.text.lower().rpartition("@")[2]))
        for hit in TIME_AT_RE.finditer(clean(text)):
            keys |= _clock_keys(int(hit.group(1)), 0)
        keys |= {("number", v) for v in number_values(text)}
    return keys


def is_grounded(ent: Entity, keys: set) -> bool:
    """Whether an output entity is supported by the source keys.

    Dates need every component (month, day, year) present; a bare host ("acme.com") is
    grounded by any source link or address on that host; plain numbers by any number
    written anywhere in the sources.
    """
    if ent.kind == "date":
        need = [k for k in ent.keys if k[0] in ("month", "year")]
        mds = [k for k in ent.keys if k[0] == "md"]
        years_ok = all(k in keys or ("number", Decimal(k[1])) in keys
                       for k in need if k[0] == "year")
        if mds:
            return years_ok and any(k in keys for k in mds)
        return years_ok and all(k in keys for k in need if k[0] == "month")
    if ent.kind == "url":
        norm = next(iter(ent.keys))[1]
        if "/" not in norm and ("host", norm) in keys:
            return True
    return bool(ent.keys & keys)
