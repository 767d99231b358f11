"""Unit tests of the word-error-rate helper (tests/support/wer.py)."""

from __future__ import annotations

import pytest
from wer import corpus_wer, edit_distance, normalise_words, wer, word_errors


@pytest.mark.parametrize(("text", "words"), [
    ("Hello, World!", ["hello", "world"]),
    ("Don't STOP.", ["dont", "stop"]),
    ("twenty-five", ["25"]),
    ("one hundred and five", ["105"]),
    ("two thousand and five apples", ["2005", "apples"]),
    ("It costs 1,000 dollars", ["it", "costs", "1000", "dollars"]),
    ("one two three", ["1", "2", "3"]),
    ("fish and chips", ["fish", "and", "chips"]),
    ("a hundred", ["a", "hundred"]),
    ("  ", []),
])
def test_normalise_words(text: str, words: list[str]) -> None:
    assert normalise_words(text) == words


def test_edit_distance_counts_each_kind_of_error() -> None:
    assert edit_distance([], []) == 0
    assert edit_distance(["a"], []) == 1  # deletion
    assert edit_distance([], ["a", "b"]) == 2  # insertions
    assert edit_distance(["a", "b", "c"], ["a", "x", "c"]) == 1  # substitution
    assert edit_distance(["a", "b", "c"], ["b", "c", "d"]) == 2


def test_wer_values() -> None:
    assert wer("ask not what your country", "Ask not, what your country!") == 0.0
    assert wer("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert wer("the cat sat", "a dog") == 1.0
    assert wer("I have 25 apples", "i have twenty five apples") == 0.0
    assert wer("", "") == 0.0
    assert wer("", "noise words") == 2.0
    assert word_errors("a b c", "a c") == (1, 3)


def test_corpus_wer_pools_errors_over_words() -> None:
    pairs = [("yes", "yes"), ("turn on the lights", "turn off the lights")]
    assert corpus_wer(pairs) == pytest.approx(1 / 5)
    assert corpus_wer([]) == 0.0
