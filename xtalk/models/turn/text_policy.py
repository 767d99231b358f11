"""An end-of-turn policy from the VAD pause and the partial transcript (no model needed).

A pause after a complete-sounding sentence ends the turn at once; a pause after a word
that promises more ("and", "but", "because", "the", a trailing comma...) or after a
filler ("um", "uh") waits longer, so the VAD's silence can stay short without cutting
people off mid-thought.
"""

from __future__ import annotations

import re

from xtalk.models.interfaces import TurnDetector, TurnVerdict

CONTINUATION_WORDS = frozenset(
    [
        "and",
        "or",
        "but",
        "so",
        "because",
        "since",
        "although",
        "though",
        "if",
        "when",
        "while",
        "until",
        "unless",
        "that",
        "which",
        "who",
        "whom",
        "whose",
        "where",
        "then",
        "also",
        "plus",
        "like",
        "the",
        "a",
        "an",
        "my",
        "your",
        "his",
        "her",
        "their",
        "our",
        "its",
        "of",
        "to",
        "for",
        "with",
        "from",
        "in",
        "on",
        "at",
        "by",
        "about",
        "into",
        "than",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "it",
        "um",
        "uh",
        "er",
        "erm",
        "hmm",
        "well",
    ]
)


class TextEndpointPolicy(TurnDetector):
    """Waits ``extra_wait_s`` more when the transcript so far sounds unfinished.

    Args:
        extra_wait_s: Additional silence to wait for after an unfinished clause.
        max_silence_s: Never wait beyond this much total silence.
    """

    def __init__(self, extra_wait_s: float = 0.8, max_silence_s: float = 2.0) -> None:
        self.extra_wait_s = extra_wait_s
        self.max_silence_s = max_silence_s

    def is_unfinished(self, text: str) -> bool:
        stripped = text.strip()
        if not stripped:
            return False
        if re.search(r"[,;:\-–—]$|\.\.\.$|…$", stripped):
            return True
        if re.search(r"[.!?]$", stripped):
            return False
        last = re.findall(r"[\w']+", stripped.lower())
        return bool(last) and last[-1] in CONTINUATION_WORDS

    def decide(self, text: str, silence_s: float) -> TurnVerdict:
        if not self.is_unfinished(text) or silence_s >= self.max_silence_s:
            return TurnVerdict(is_end=True)
        wait = min(self.extra_wait_s, self.max_silence_s - silence_s)
        return TurnVerdict(is_end=False, wait_s=max(0.0, wait))
