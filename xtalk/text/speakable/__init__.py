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

import re

from xtalk.text.speakable.abbreviations import expand_abbreviations
from xtalk.text.speakable.markup import plain_text
from xtalk.text.speakable.number_words import (
    digits_to_words,
    number_to_words,
    ordinal_to_words,
    year_to_words,
)
from xtalk.text.speakable.numbers import speak_numbers

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
    text = plain_text(text)
    text = expand_abbreviations(text)
    text = speak_numbers(text)
    text = _speak_symbols(text)
    return _tidy(text)


__all__ = [
    "digits_to_words",
    "make_speakable",
    "number_to_words",
    "ordinal_to_words",
    "year_to_words",
]
