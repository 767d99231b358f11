"""Turn LLM output into text a speech synthesiser can read aloud (pure logic).

:func:`make_speakable` strips Markdown/HTML markup, drops code blocks and emoji, and writes
out what a phonemiser would otherwise mangle: URLs and e-mail addresses, common
abbreviations, numbers (cardinals, decimals, percentages, money, ordinals, years, dates,
times, temperatures, fractions, ranges) and symbols (``&``, ``+``, ``=``...). The result
never contains ``*`` or ``#``, so a voice never says "asterisk" or "hash".

The function is stateless and works on any fragment (a whole reply or one clause of it);
a code fence opened in the fragment and not closed drops the rest of the fragment.
English only. No dependencies beyond the standard library.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

__all__ = [
    "digits_to_words",
    "make_speakable",
    "number_to_words",
    "ordinal_to_words",
    "year_to_words",
]

# --------------------------------------------------------------------------- number words
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = (
    (10**15, "quadrillion"),
    (10**12, "trillion"),
    (10**9, "billion"),
    (10**6, "million"),
    (10**3, "thousand"),
)
_MAX_CARDINAL = 10**18 - 1
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}


def number_to_words(n: int) -> str:
    """``1234`` → ``"one thousand two hundred thirty-four"`` (American style, no "and")."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n > _MAX_CARDINAL:
        return digits_to_words(str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{number_to_words(high)} {name}" + (
                f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")  # pragma: no cover


def ordinal_to_words(n: int) -> str:
    """``21`` → ``"twenty-first"``."""
    words = number_to_words(n)
    cut = max(words.rfind(" "), words.rfind("-")) + 1
    head, last = words[:cut], words[cut:]
    if last in _ORDINAL_WORDS:
        return head + _ORDINAL_WORDS[last]
    if last.endswith("y"):
        return head + last[:-1] + "ieth"
    return head + last + "th"


def digits_to_words(digits: str) -> str:
    """``"007"`` → ``"zero zero seven"``."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def year_to_words(year: int) -> str:
    """``1999`` → ``"nineteen ninety-nine"``, ``2005`` → ``"two thousand five"``,
    ``2024`` → ``"twenty twenty-four"``, ``1905`` → ``"nineteen oh five"``."""
    if not 1000 <= year <= 9999:
        return number_to_words(year)
    high, low = divmod(year, 100)
    if high % 10 == 0 and low < 10:  # 2000, 2005, 1001
        return number_to_words(year)
    if low == 0:
        return f"{number_to_words(high)} hundred"
    if low < 10:
        return f"{number_to_words(high)} oh {_ONES[low]}"
    return f"{number_to_words(high)} {number_to_words(low)}"


def _plural(words: str) -> str:
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _cardinal_text(int_part: str, frac: str | None = None) -> str:
    """Words of a number given as text (thousand separators allowed)."""
    digits = int_part.replace(",", "")
    if len(digits) > 1 and digits.startswith("0") and "," not in int_part:
        words = digits_to_words(digits)  # codes such as 007
    elif len(digits) > 18:
        words = digits_to_words(digits)
    else:
        words = number_to_words(int(digits)) if digits else ""
    if frac:
        words = (words + " " if words else "") + "point " + digits_to_words(frac)
    return words


# --------------------------------------------------------------------------- patterns
_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_LOOKUP = {m.lower(): m for m in _MONTHS}
_MONTH_LOOKUP.update({m[:3].lower(): m for m in _MONTHS})
_MONTH_LOOKUP["sept"] = "September"
_MONTH_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)

_EMOJI_RE = re.compile(
    "["
    "\U0001F000-\U0001FAFF"  # pictographs, emoticons, transport, flags, symbols & pictographs
    "\U0001FC00-\U0001FFFF"
    "\u2600-\u27BF"  # miscellaneous symbols, dingbats
    "\u2B00-\u2BFF"  # stars, arrows
    "\u2300-\u23FF"  # watch, hourglass, keyboard...
    "\u2190-\u21FF"  # arrows (a spoken "to" is added for "→" before this runs)
    "\u25A0-\u25FF"  # geometric shapes
    "\uFE00-\uFE0F"  # variation selectors
    "\u200D\u20E3\u2122\u00AE\u00A9\u3030\u303D\u3297\u3299"
    "\U000E0020-\U000E007F"  # tag characters (subdivision flags)
    "]+"
)
_EMOTICON_RE = re.compile(r"(?<![\w)(])[:;]-?[)(DPp](?![\w)(])")

_FENCE_RE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.DOTALL)
_HTML_BLOCK_RE = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE)
_HTML_BREAK_RE = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", re.IGNORECASE)
_HTML_TAG_RE = re.compile(r"<!--.*?-->|</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp)://[^<>\s]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>")

_IMAGE_OR_LINK_RE = re.compile(
    r"!?\[([^\[\]\n]{0,300})\]\(\s*<?([^()\[\]\s>]*)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)"
)
_REF_LINK_RE = re.compile(r"\[([^\[\]\n]{1,300})\]\[[^\[\]\n]{0,100}\]")
_REF_DEF_RE = re.compile(r"^\s{0,3}\[[^\[\]\n]{1,100}\]:\s+\S+.*$", re.MULTILINE)
_FOOTNOTE_RE = re.compile(r"\[\^[\w-]{1,16}\]")
_CITATION_RE = re.compile(r"\[\d+(?:\s*[,-]\s*\d+)*\]")

_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)")
_HEADING_CLOSE_RE = re.compile(r"\s+#+\s*$")
_QUOTE_RE = re.compile(r"^\s*(?:>\s?)+")
_BULLET_RE = re.compile(r"^\s*(?:[-*+•▪◦‣·]|\d{1,3}[.)]|[a-z]\))\s+")
_TASK_RE = re.compile(r"^\[[ xX]\]\s+")
_RULE_RE = re.compile(r"^\s*(?:(?:[-*_]\s*){3,}|=+|-+)\s*$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")

_CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
# Contents exclude their own delimiter so an unclosed one costs linear time, not quadratic.
_EMPHASIS_RES = (
    re.compile(r"\*\*\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*\*\*"),
    re.compile(r"\*\*(?=[^\s*])((?:[^*]|\*(?!\*))+?)(?<=[^\s*])\*\*"),
    re.compile(r"(?<!\w)___(?=[^\s_])([^_]+?)(?<=[^\s_])___(?!\w)"),
    re.compile(r"(?<!\w)__(?=[^\s_])((?:[^_]|_(?!_))+?)(?<=[^\s_])__(?!\w)"),
    re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])"),
    re.compile(r"(?<!\w)_(?=[^\s_])([^_]+?)(?<=[^\s_])_(?!\w)"),
    re.compile(r"~~(?=[^\s~])((?:[^~]|~(?!~))+?)(?<=[^\s~])~~"),
)

_EMAIL_RE = re.compile(r"(?<![\w.+/:-])([\w.+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_URL_RE = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)[^\s<>()\[\]{}\"'`]+"
    r"|\b(?:[A-Za-z0-9-]{1,63}\.){1,8}(?:com|org|net|io|dev|ai|edu|gov|co|uk|de|fr|app|info|me)"
    r"/[^\s<>()\[\]{}\"'`]*",
    re.IGNORECASE,
)

_TRAILING = re.compile(r"[.,;:!?]+$")


# --------------------------------------------------------------------------- markup
def _drop_fence(match: re.Match[str]) -> str:
    """A code block becomes a paragraph break (or a space when it sat inside a line)."""
    before = match.string[:match.start()].rstrip(" ")
    return "\n\n" if not before or before.endswith("\n") else " "


def _strip_markup(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _FENCE_RE.sub(_drop_fence, text)
    text = _HTML_BLOCK_RE.sub(" ", text)
    text = _AUTOLINK_RE.sub(r" \1 ", text)
    text = _HTML_BREAK_RE.sub("\n", text)
    text = _HTML_TAG_RE.sub("", text)
    text = html.unescape(text).replace("\u00a0", " ")
    text = _REF_DEF_RE.sub("", text)

    def link(match: re.Match[str]) -> str:
        label = match.group(1).strip()
        return label if label else match.group(2)

    text = _IMAGE_OR_LINK_RE.sub(link, text)
    text = _REF_LINK_RE.sub(r"\1", text)
    text = _FOOTNOTE_RE.sub("", text)
    text = _CITATION_RE.sub("", text)
    text = _CODE_SPAN_RE.sub(lambda m: m.group(2).strip(), text)
    text = text.replace("`", "")
    return _join_lines(text)


def _terminate(line: str) -> str:
    line = line.rstrip()
    if line and (line[-1].isalnum() or line[-1] in "%)\"'’”"):
        return line + "."
    return line


def _table_row(line: str) -> str | None:
    stripped = line.strip()
    if stripped.count("|") < 2 and not (stripped.startswith("|") or stripped.endswith("|")):
        return None
    cells = [c.strip() for c in stripped.strip("|").split("|")]
    cells = [c for c in cells if c]
    return ", ".join(cells)


def _join_lines(text: str) -> str:
    parts: list[str] = []
    paragraph_end = True  # the previous line closed a block
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            if parts:
                parts[-1] = _terminate(parts[-1])
            paragraph_end = True
            continue
        if _TABLE_SEP_RE.match(line) or _RULE_RE.match(line):
            if parts:
                parts[-1] = _terminate(parts[-1])
            paragraph_end = True
            continue
        block = False
        if _HEADING_RE.match(line):
            line = _HEADING_CLOSE_RE.sub("", _HEADING_RE.sub("", line))
            block = True
        line = _QUOTE_RE.sub("", line)
        if _BULLET_RE.match(line):
            line = _BULLET_RE.sub("", line)
            block = True
        line = _TASK_RE.sub("", line)
        if "|" in line:
            row = _table_row(line)
            if row is not None:
                line, block = row, True
        line = line.strip()
        if not line:
            continue
        if (block or paragraph_end) and parts:
            parts[-1] = _terminate(parts[-1])
        parts.append(line)
        paragraph_end = block
    if len(parts) > 1:
        parts[-1] = _terminate(parts[-1])
    return " ".join(parts)


def _strip_emphasis(text: str) -> str:
    for _ in range(3):  # nested emphasis (**bold _italic_**)
        before = text
        for pattern in _EMPHASIS_RES:
            text = pattern.sub(r"\1", text)
        if text == before:
            break
    return text


# --------------------------------------------------------------------------- URLs, e-mail
def _speak_email(match: re.Match[str]) -> str:
    local, domain = match.group(1).strip("."), match.group(2)
    local = re.sub(r"[._]", " dot ", local).replace("+", " plus ").replace("-", " dash ")
    domain = domain.replace(".", " dot ")
    return f"{local} at {domain}"


def _speak_url(match: re.Match[str]) -> str:
    url = match.group(0)
    trailing = _TRAILING.search(url)
    tail = ""
    if trailing:
        tail, url = trailing.group(0), url[: trailing.start()]
    host = re.sub(r"^[a-z]+://", "", url, flags=re.IGNORECASE)
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    host = re.sub(r":\d+$", "", host)
    host = re.sub(r"^www\d?\.", "", host, flags=re.IGNORECASE)
    return host.lower() + tail


# --------------------------------------------------------------------------- abbreviations
def _abbr(pattern: str, spoken: str, keep_period: bool = False,
          flags: int = re.IGNORECASE) -> tuple[re.Pattern[str], Callable[[re.Match[str]], str]]:
    regex = re.compile(pattern, flags)

    def replace(match: re.Match[str]) -> str:
        word = spoken
        if match.group(0)[:1].isupper() and not spoken[:1].isupper():
            word = spoken[:1].upper() + spoken[1:]
        if keep_period:
            rest = match.string[match.end():]
            if not rest.strip() or re.match(r"\s+[A-Z]", rest):
                word += "."
        return word

    return regex, replace


_ABBREVIATIONS = (
    _abbr(r"(?<![\w.])e\.\s?g\.?(?![\w])", "for example"),
    _abbr(r"(?<![\w.])i\.\s?e\.?(?![\w])", "that is"),
    _abbr(r"(?<![\w.])a\.k\.a\.?(?![\w])", "also known as"),
    _abbr(r"\betc\b\.?", "et cetera", keep_period=True),
    _abbr(r"\b[vV]s\b\.?", "versus", flags=0),
    _abbr(r"\bv\.(?=\s)", "versus", flags=0),
    _abbr(r"\bapprox\b\.?", "approximately"),
    _abbr(r"\bincl\.", "including"),
    _abbr(r"\besp\.", "especially"),
    _abbr(r"\bcf\.", "compare"),
    _abbr(r"\bw/o\b", "without"),
    _abbr(r"\bw/(?=\s)", "with"),
    _abbr(r"\bDr\.?(?=\s+[A-Z])", "Doctor", flags=0),
    _abbr(r"\bDr\.", "Doctor", flags=0),
    _abbr(r"\bMrs\.?(?=\s+[A-Z])", "Missus", flags=0),
    _abbr(r"\bMr\.?(?=\s+[A-Z])", "Mister", flags=0),
    _abbr(r"\bMs\.?(?=\s+[A-Z])", "Miz", flags=0),
    _abbr(r"\bProf\.?(?=\s+[A-Z])", "Professor", flags=0),
    _abbr(r"\bJr\.", "Junior", keep_period=True, flags=0),
    _abbr(r"\bSr\.", "Senior", keep_period=True, flags=0),
    _abbr(r"\bNo\.(?=\s?\d)", "number", flags=0),
    _abbr(r"\bno\.(?=\s?\d)", "number", flags=0),
    _abbr(r"\bfig\.(?=\s?\d)", "figure"),
    _abbr(r"\bca\.(?=\s?\d)", "circa"),
)


def _expand_abbreviations(text: str) -> str:
    for regex, replace in _ABBREVIATIONS:
        text = regex.sub(replace, text)
    return text


# --------------------------------------------------------------------------- numbers
_NUM = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "usd": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "eur": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "gbp": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "jpy": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "inr": ("rupee", "rupees", "paisa", "paise"),
}
_SCALE_WORDS = {
    "k": "thousand", "thousand": "thousand", "m": "million", "mm": "million",
    "million": "million", "b": "billion", "bn": "billion", "billion": "billion",
    "t": "trillion", "tn": "trillion", "trillion": "trillion",
}
_SCALE_RE = r"(?:\s?(?P<scale>[kKmMbBtT]n?|mm|thousand|million|billion|trillion)(?![\w]))?"
_PREFIX_MONEY_RE = re.compile(
    r"(?<![\w])(?P<sign>[-−])?(?P<cur>[$€£¥₹]|USD|EUR|GBP)\s?(?P<int>" + _NUM + r")"
    r"(?:\.(?P<frac>\d+))?" + _SCALE_RE
)
_SUFFIX_MONEY_RE = re.compile(
    r"(?<![\w.,])(?P<sign>[-−])?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?" + _SCALE_RE
    + r"\s?(?P<cur>[€£¥₹]|USD|EUR|GBP|JPY|INR)(?![\w])"
)


def _money(match: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[match.group("cur").lower()]
    int_text, frac = match.group("int"), match.group("frac")
    sign = "minus " if match.group("sign") else ""
    scale = match.group("scale")
    if scale:
        amount = _cardinal_text(int_text, frac)
        return f"{sign}{amount} {_SCALE_WORDS[scale.lower()]} {many}"
    whole = _int(int_text)
    if frac is not None and (len(frac) > 2 or not sub_many):
        return f"{sign}{_cardinal_text(int_text, frac)} {many}"
    cents = int(frac.ljust(2, "0")) if frac else 0
    main = f"{number_to_words(whole)} {one if whole == 1 else many}"
    if not cents:
        return sign + main
    sub = number_to_words(cents)
    if whole == 0:
        return f"{sign}{sub} {sub_one if cents == 1 else sub_many}"
    if cents < 10:
        return f"{sign}{main} and {sub} {sub_one if cents == 1 else sub_many}"
    return f"{sign}{main} {sub}"


def _signed(match: re.Match[str]) -> str:
    return "minus " if match.group("sign") else ""


_PERCENT_RE = re.compile(
    r"(?<![\w.,])(?P<sign>[-−])?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?\s?(?:%|percent\b)"
)
_TEMPERATURE_RE = re.compile(
    r"(?<![\w.,])(?P<sign>[-−])?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?"
    r"\s?(?:°(?:\s?(?P<unit>[CFK])(?![a-zA-Z]))?|(?P<unit2>℃|℉))"
)
# Units of measure written after a number ("330 m", "1,083 ft", "3 GB", "20 MB/s"): read
# as words, singular for exactly one. Case-sensitive; symbols too ambiguous to expand
# ("in", "A", "M") are left alone.
_UNITS: dict[str, tuple[str, str]] = {
    "mm": ("millimeter", "millimeters"), "cm": ("centimeter", "centimeters"),
    "m": ("meter", "meters"), "km": ("kilometer", "kilometers"),
    "ft": ("foot", "feet"), "yd": ("yard", "yards"), "mi": ("mile", "miles"),
    "mg": ("milligram", "milligrams"), "g": ("gram", "grams"),
    "kg": ("kilogram", "kilograms"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"), "L": ("liter", "liters"),
    "ms": ("millisecond", "milliseconds"), "s": ("second", "seconds"),
    "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "mph": ("mile per hour", "miles per hour"), "kph": ("kilometer per hour",
                                                       "kilometers per hour"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"), "GHz": ("gigahertz", "gigahertz"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"), "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"), "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
}
_PER_UNITS = {"s": "second", "h": "hour", "hr": "hour", "min": "minute"}
# "5m users", "the 80s", "5s": without a space these letters are not units.
_SPACED_UNITS = ("m", "s", "g", "h")
_UNIT_RE = re.compile(
    r"(?<![\w.,])(?P<num>(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?)"
    r"(?:\s?(?P<unit>" + "|".join(sorted(
        (re.escape(u) for u in _UNITS if u not in _SPACED_UNITS), key=len, reverse=True))
    + r")|\s(?P<spaced>" + "|".join(_SPACED_UNITS) + r"))"
    r"(?:/(?P<per>" + "|".join(sorted(_PER_UNITS, key=len, reverse=True)) + r"))?"
    r"(?![\w/])"
)


def _unit(match: re.Match[str]) -> str:
    one, many = _UNITS[match.group("unit") or match.group("spaced")]
    is_one = match.group("int") == "1" and not match.group("frac")
    words = f"{match.group('num')} {one if is_one else many}"
    if match.group("per"):
        words += f" per {_PER_UNITS[match.group('per')]}"
    return words


_TIME_RE = re.compile(
    r"(?<![\w.:])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?!:?\d)"
    r"(?:\s?(?P<ampm>[aApP])\.?\s?[mM]\.?(?![a-zA-Z]))?"
)
_HOUR_AMPM_RE = re.compile(
    r"(?<![\w.:])(?P<h>1[0-2]|0?[1-9])\s?(?P<ampm>[aApP])\.?\s?[mM]\.?(?!\w)"
)
_ORDINAL_RE = re.compile(r"(?<![\w.,])(?P<int>" + _NUM + r")(?:st|nd|rd|th)\b", re.IGNORECASE)
_DECADE_RE = re.compile(r"(?<![\w.,])(?P<year>1[1-9]\d0|20\d0)'?s\b")
_SHORT_DECADE_RE = re.compile(r"(?<![\w])['’](?P<d>[2-9]0)s\b")
_ISO_DATE_RE = re.compile(
    r"(?<![\w.-])(?P<y>1[1-9]\d\d|20\d\d)-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])"
    r"(?![\w-])"
)
_MONTH_DAY_RE = re.compile(
    r"\b(?P<month>" + _MONTH_RE + r")\s+(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
    r"(?:,?\s+(?P<y>1[1-9]\d\d|20\d\d)\b)?(?![.,:]\d)"
)
_DAY_MONTH_RE = re.compile(
    r"(?<![\w.,])(?P<d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>" + _MONTH_RE
    + r")(?:,?\s+(?P<y>1[1-9]\d\d|20\d\d)\b)?(?![.,:]\d)"
)
_MONTH_YEAR_RE = re.compile(
    r"\b(?P<month>" + _MONTH_RE + r"),?\s+(?P<y>1[1-9]\d\d|20\d\d)\b(?![.,:]\d)"
)
_YEAR_CONTEXT_RE = re.compile(
    r"\b(?P<ctx>in|since|from|until|till|during|before|after|circa|by|around|year|of|early|"
    r"late|mid|between|summer|winter|spring|autumn|fall)(?P<gap>\s+|-)(?P<y>1[1-9]\d\d|20\d\d)"
    r"\b(?![.,:]\d)(?=\s*(?P<next>[A-Za-z]+)?)",
    re.IGNORECASE,
)
_YEAR_ERA_RE = re.compile(r"(?<![\w.,])(?P<y>\d{1,4})\s?(?P<era>AD|BC|BCE|CE)\b")
_YEAR_FOLLOWERS = frozenset(
    "to and or through until till when the a an i we he she they it you there this that these "
    "those was were is are had has have as with where while after before but so saw see".split()
)
_YEAR_RANGE_RE = re.compile(
    r"(?<![\w.,-])(?P<a>1[1-9]\d\d|20\d\d)\s?[-–—]\s?(?P<b>1[1-9]\d\d|20\d\d)"
    r"(?![\w.,-]|\.\d)"
)
_DIGIT_CHAIN_RE = re.compile(r"(?<![\w.-])\+?\d+(?:[-.]\d+){2,}(?![\w-]|\.\d)")
_PHONE_RE = re.compile(r"(?<![\w.-])(?:\(\d{3}\)\s?)?\d{3}-\d{4}(?![\w-])")
_RANGE_RE = re.compile(
    r"(?<![\w.,-])(?P<a>[$€£¥₹]?(?:" + _NUM + r")(?:\.\d+)?)(?:\s?[–—]\s?|-)"
    r"(?P<b>[$€£¥₹]?(?:" + _NUM + r")(?:\.\d+)?)(?![-\d]|[.,]\d)"
)
_VERSION_RE = re.compile(r"\b(?P<v>[vV](?:ersion)?)\.?\s?(?P<n>\d+(?:\.\d+)+)\b")
_FRACTION_RE = re.compile(r"(?<![\w/.,])(?P<a>\d{1,3})/(?P<b>\d{1,3})(?![\w/]|[.,]\d)")
_FRACTION_DENOMINATORS = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 32, 64, 100})
_TIMES_RE = re.compile(r"(?<=\d)\s?[×*]\s?(?=\d)")
_BY_RE = re.compile(r"(?<=\d)\s?x\s?(?=\d)")
_MULTIPLIER_RE = re.compile(r"(?<![\w.,])(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?x\b")
_POINT_RE = re.compile(r"(?<![\w.])\.(?P<frac>\d+)\b")
_NUMBER_RE = re.compile(
    r"(?<![\w.])(?P<sign>[-−](?=\d))?(?P<int>" + _NUM + r")(?:\.(?P<frac>\d+))?"
)


def _month_name(text: str) -> str:
    return _MONTH_LOOKUP[text.rstrip(".").lower()]


def _iso_date(match: re.Match[str]) -> str:
    month = _MONTHS[int(match.group("m")) - 1]
    day = ordinal_to_words(int(match.group("d")))
    return f"{month} {day}, {year_to_words(int(match.group('y')))}"


def _month_day(match: re.Match[str]) -> str:
    spoken = f"{_month_name(match.group('month'))} {ordinal_to_words(int(match.group('d')))}"
    if match.group("y"):
        spoken += f", {year_to_words(int(match.group('y')))}"
    return spoken


def _day_month(match: re.Match[str]) -> str:
    article = "" if re.search(r"\bthe\s+$", match.string[:match.start()], re.I) else "the "
    spoken = (f"{article}{ordinal_to_words(int(match.group('d')))} of "
              f"{_month_name(match.group('month'))}")
    if match.group("y"):
        spoken += f", {year_to_words(int(match.group('y')))}"
    return spoken


def _year_context(match: re.Match[str]) -> str:
    following = match.group("next")
    if following and following[0].islower() and following.lower() not in _YEAR_FOLLOWERS:
        return match.group(0)  # "a total of 1500 people": a quantity, not a year
    return f"{match.group('ctx')}{match.group('gap')}{year_to_words(int(match.group('y')))}"


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group("h")), int(match.group("m"))
    ampm = match.group("ampm")
    if minute == 0:
        if ampm or 1 <= hour <= 12:
            spoken = f"{number_to_words(hour)}" + ("" if ampm else " o'clock")
        else:
            spoken = f"{number_to_words(hour)} hundred"
    elif minute < 10:
        spoken = f"{number_to_words(hour)} oh {_ONES[minute]}"
    else:
        spoken = f"{number_to_words(hour)} {number_to_words(minute)}"
    if ampm:
        spoken += f" {ampm.lower()}.m."
    return spoken


def _hour_ampm(match: re.Match[str]) -> str:
    return f"{number_to_words(int(match.group('h')))} {match.group('ampm').lower()}.m."


def _temperature(match: re.Match[str]) -> str:
    words = _signed(match) + _cardinal_text(match.group("int"), match.group("frac"))
    singular = match.group("int") == "1" and not match.group("frac")
    spoken = f"{words} {'degree' if singular else 'degrees'}"
    unit = match.group("unit") or {"℃": "C", "℉": "F"}.get(match.group("unit2") or "")
    if unit:
        spoken += " " + {"C": "Celsius", "F": "Fahrenheit", "K": "Kelvin"}[unit]
    return spoken


def _fraction(match: re.Match[str]) -> str:
    a, b = int(match.group("a")), int(match.group("b"))
    if b in _FRACTION_DENOMINATORS and 0 < a < b:
        if b == 2:
            denominator = "half" if a == 1 else "halves"
        elif b == 4:
            denominator = "quarter" if a == 1 else "quarters"
        else:
            denominator = ordinal_to_words(b)
            if a != 1:
                denominator += "s"
        return f"{number_to_words(a)} {denominator}"
    return f"{number_to_words(a)} {number_to_words(b)}"  # 24/7, 50/50


def _range(match: re.Match[str]) -> str:
    return f"{match.group('a')} to {match.group('b')}"  # the numbers are spoken later


def _digit_chain(match: re.Match[str]) -> str:
    text = match.group(0)
    groups = re.split(r"[-.]", text.lstrip("+"))
    if "." in text and "-" not in text:
        joiner = " dot " if len(groups) >= 4 else " point "
        return joiner.join(_cardinal_text(g) for g in groups)  # IP address, 1.2.3
    spoken = ", ".join(digits_to_words(g) for g in groups)
    return ("plus " if text.startswith("+") else "") + spoken


def _version(match: re.Match[str]) -> str:
    return "version " + " point ".join(_cardinal_text(g) for g in match.group("n").split("."))


def _number(match: re.Match[str]) -> str:
    spoken = _signed(match) + _cardinal_text(match.group("int"), match.group("frac"))
    following = match.string[match.end():match.end() + 1]
    return spoken + " " if following.isalpha() else spoken


def _speak_numbers(text: str) -> str:
    text = re.sub(r"(?<=[A-Za-z])-(?=\d)", " ", text)  # COVID-19
    text = _ISO_DATE_RE.sub(_iso_date, text)
    text = _VERSION_RE.sub(_version, text)
    text = _PHONE_RE.sub(lambda m: ", ".join(
        digits_to_words(g) for g in re.findall(r"\d+", m.group(0))), text)
    text = _DIGIT_CHAIN_RE.sub(_digit_chain, text)
    text = _YEAR_RANGE_RE.sub(
        lambda m: f"{year_to_words(int(m.group('a')))} to {year_to_words(int(m.group('b')))}",
        text)
    text = _RANGE_RE.sub(_range, text)
    text = _PREFIX_MONEY_RE.sub(_money, text)
    text = _SUFFIX_MONEY_RE.sub(_money, text)
    text = _PERCENT_RE.sub(
        lambda m: f"{_signed(m)}{_cardinal_text(m.group('int'), m.group('frac'))} percent", text)
    text = _TEMPERATURE_RE.sub(_temperature, text)
    text = _TIME_RE.sub(_time, text)
    text = _HOUR_AMPM_RE.sub(_hour_ampm, text)
    text = _MONTH_DAY_RE.sub(_month_day, text)
    text = _DAY_MONTH_RE.sub(_day_month, text)
    text = _MONTH_YEAR_RE.sub(
        lambda m: f"{_month_name(m.group('month'))} {year_to_words(int(m.group('y')))}", text)
    text = _ORDINAL_RE.sub(lambda m: ordinal_to_words(_int(m.group("int"))), text)
    text = _DECADE_RE.sub(lambda m: _plural(year_to_words(int(m.group("year")))), text)
    text = _SHORT_DECADE_RE.sub(lambda m: _plural(number_to_words(int(m.group("d")))), text)
    text = _YEAR_ERA_RE.sub(
        lambda m: f"{year_to_words(int(m.group('y')))} {m.group('era')}", text)
    text = _YEAR_CONTEXT_RE.sub(_year_context, text)
    text = _UNIT_RE.sub(_unit, text)
    text = _FRACTION_RE.sub(_fraction, text)
    text = _TIMES_RE.sub(" times ", text)
    text = _BY_RE.sub(" by ", text)
    text = _MULTIPLIER_RE.sub(
        lambda m: f"{_cardinal_text(m.group('int'), m.group('frac'))} times", text)
    text = re.sub(r"(?<=\d)\s+[-−]\s+(?=\d)", " minus ", text)
    text = re.sub(r"#\s?(?=\d)", "number ", text)
    text = _POINT_RE.sub(lambda m: "point " + digits_to_words(m.group("frac")), text)
    return _NUMBER_RE.sub(_number, text)


# --------------------------------------------------------------------------- symbols
_SYMBOLS = (
    (re.compile(r"\bkm/h\b"), "kilometers per hour"),
    (re.compile(r"\bm/s\b"), "meters per second"),
    (re.compile(r"\b([CFJ])#(?!\w)"), r"\1 sharp"),
    (re.compile(r"\bC\+\+"), "C plus plus"),
    (re.compile(r"\s*(?:->|=>|→|⟶|⇒)\s*"), " to "),
    (re.compile(r"\s*<=\s*|\s*≤\s*"), " less than or equal to "),
    (re.compile(r"\s*>=\s*|\s*≥\s*"), " greater than or equal to "),
    (re.compile(r"\s*(?:!=|≠)\s*"), " is not equal to "),
    (re.compile(r"\s*(?:==|=)\s*"), " equals "),
    (re.compile(r"\s*≈\s*"), " approximately "),
    (re.compile(r"\s*±\s*"), " plus or minus "),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"\s*\+\s*"), " plus "),
    (re.compile(r"\s*×\s*"), " times "),
    (re.compile(r"\s*÷\s*"), " divided by "),
    (re.compile(r"\s+<\s+"), " less than "),
    (re.compile(r"\s+>\s+"), " greater than "),
    (re.compile(r"~\s?(?=[\w$€£])"), "about "),
    (re.compile(r"(?<!\w)@(?=\w)"), "at "),
    (re.compile(r"\s*@\s*"), " at "),
    (re.compile(r"%"), " percent"),
    (re.compile(r"°"), " degrees"),
    (re.compile(r"§\s*"), "section "),
    (re.compile(r"\s*(?:—|–|―|\s-{1,2}\s)\s*"), ", "),
    (re.compile(r"\s*[|•·▪◦‣]\s*"), ", "),
    (re.compile(r"[*#_~^\\<>{}\[\]$€£¥₹`]+"), " "),
    (re.compile(r"(?<=\w)/(?=\w)"), " "),
    (re.compile(r"/"), " "),
)


def _speak_symbols(text: str) -> str:
    for pattern, replacement in _SYMBOLS:
        text = pattern.sub(replacement, text)
    return text


# --------------------------------------------------------------------------- cleanup
def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*[,.;:]*\s*\)", " ", text)  # "()" left by a dropped code span
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s+\)", ")", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?…])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]\s*([.!?])", r"\1", text)
    text = re.sub(r"([.!?])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"(?<![.])\.(?:\s*\.)(?!\.)", ".", text)  # ". ." but not ellipses
    text = re.sub(r"([!?])\s*\.", r"\1", text)
    text = text.strip()
    text = re.sub(r"^[\s,;:.!?)\]-]+", "", text)
    if not any(ch.isalnum() for ch in text):
        return ""
    return text


def make_speakable(text: str) -> str:
    """Rewrite ``text`` (LLM output, possibly Markdown) as plain words to be read aloud.

    Args:
        text: A reply or a fragment of one.

    Returns:
        Plain text with markup, code blocks and emoji removed and numbers, symbols,
        abbreviations, URLs and e-mail addresses written out; ``""`` when nothing
        speakable is left.
    """
    if not text or not text.strip():
        return ""
    text = _strip_markup(text)
    text = _EMOJI_RE.sub(" ", text.replace("→", " to "))
    text = _EMOTICON_RE.sub(" ", text)
    text = _strip_emphasis(text)
    text = _EMAIL_RE.sub(_speak_email, text)
    text = _URL_RE.sub(_speak_url, text)
    text = _expand_abbreviations(text)
    text = _speak_numbers(text)
    text = _speak_symbols(text)
    return _tidy(text)
