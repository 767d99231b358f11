"""Common abbreviations written out."""

from __future__ import annotations

import re
from collections.abc import Callable


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


def expand_abbreviations(text: str) -> str:
    for regex, replace in _ABBREVIATIONS:
        text = regex.sub(replace, text)
    return text
