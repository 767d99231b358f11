"""Numbers as English words: cardinals, ordinals, digit by digit, years."""

from __future__ import annotations

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
