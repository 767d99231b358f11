"""An end-of-turn policy from the VAD pause and the transcript (no model needed).

A pause after a complete-sounding sentence ends the turn at once; a pause after a word
that promises more ("and", "but", "because", "the", "to"...), after a trailing comma or
ellipsis (Whisper writes "..." where the voice goes on) or after a filler ("um", "uh")
waits longer, so the VAD's silence can stay short without cutting people off
mid-thought. A word that cannot end a clause ("to", "the", "and") counts even before a
full stop or question mark: Whisper punctuates "Can you remind me to" as a question.
"""

from __future__ import annotations

import re

import numpy as np

from xtalk.models.interfaces import TurnDetector, TurnVerdict

#: Words that end a clause only when more follows, whatever Whisper's punctuation says.
STRONG_CONTINUATION_WORDS = frozenset("""
    a an the my your his their our its
    and or but because since although though if unless until whether nor than plus
    of to for with from into onto upon via between through toward towards during without
    against among as in at by about
    um uh er erm
""".split())

#: Words that promise more when no full stop or question mark follows them ("What time is
#: it?" ends with a pronoun, "Turn the lights on." with a particle).
CONTINUATION_WORDS = STRONG_CONTINUATION_WORDS | frozenset("""
    so when while that which who whom whose where then also like well hmm
    is are was were be been being
    i we you they he she it her
    on
""".split())


def sounds_unfinished(text: str) -> bool:
    """Whether ``text`` ends in a way that promises more (see the module docstring)."""
    stripped = text.strip()
    if not stripped:
        return False
    if re.search(r"[,;:\-–—]$|\.\.\.$|…$", stripped):
        return True
    words = re.findall(r"[\w']+", stripped.lower())
    if not words:
        return False
    closed = re.search(r"[.!?]$", stripped) is not None
    return words[-1] in (STRONG_CONTINUATION_WORDS if closed else CONTINUATION_WORDS)


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
        return sounds_unfinished(text)

    def decide(self, text: str, silence_s: float, audio: np.ndarray | None = None
               ) -> TurnVerdict:
        if not self.is_unfinished(text) or silence_s >= self.max_silence_s:
            return TurnVerdict(is_end=True)
        wait = min(self.extra_wait_s, self.max_silence_s - silence_s)
        return TurnVerdict(is_end=False, wait_s=max(0.0, wait))
