"""Word error rate for recognition tests.

Both texts are normalised first: lowercase, punctuation removed (apostrophes too, so
"don't" == "dont"), hyphens split words, digit groups joined ("1,000" → "1000"), and
spelled-out numbers written as digits ("twenty-five" → "25", "one hundred and five" →
"105"), since Whisper writes spoken numbers either way.
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "oh": None, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}
_UNITS.pop("oh")  # "oh" is usually the interjection
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | set(_SCALES)

_DIGIT_GROUPS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _words_to_number(words: list[str]) -> int:
    total, current = 0, 0
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:  # thousand, million, billion
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def _continues(previous: str, word: str) -> bool:
    """Whether ``word`` extends a spelled number ending in ``previous``."""
    if word in _SCALES:
        return True
    if previous in _SCALES:
        return True
    if word in _UNITS:
        return previous in _TENS and _UNITS[word] < 10
    return False


def _numbers_as_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(str(_words_to_number(run)))
            run.clear()

    for i, word in enumerate(words):
        if word in _NUMBER_WORDS and not (word in _SCALES and not run):
            if run and not _continues(run[-1], word):
                flush()  # "one two three" is three numbers
            run.append(word)
        elif (word == "and" and run and run[-1] in _SCALES and i + 1 < len(words)
              and words[i + 1] in _UNITS | _TENS):
            continue  # "one hundred and five"
        else:
            flush()
            out.append(word)
    flush()
    return out


def normalise_words(text: str) -> list[str]:
    """The normalised word list of ``text``."""
    text = _DIGIT_GROUPS.sub("", text.lower()).replace("'", "").replace("\u2019", "")
    words = [w for w in _NON_WORD.split(text) if w]
    return _numbers_as_digits(words)


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance between two word lists (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, reference word count), for pooling several utterances into one WER."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    return edit_distance(ref, hyp), len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``.

    An empty reference gives 0.0 for an empty hypothesis, else the number of inserted words.
    """
    errors, count = word_errors(reference, hypothesis)
    return errors / max(count, 1)


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """WER over several (reference, hypothesis) pairs: total errors / total reference words."""
    totals = [word_errors(ref, hyp) for ref, hyp in pairs]
    return sum(e for e, _ in totals) / max(sum(n for _, n in totals), 1)
