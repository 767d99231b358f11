"""Decide whether a recognised utterance is real speech (pure logic)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Phrases Whisper-family models invent on silence and noise.
HALLUCINATIONS = frozenset({
    "thank you", "thank you very much", "thanks for watching", "thank you for watching",
    "please subscribe", "subtitles by the amara org community", "you", "bye", "so",
    "okay", "hmm", "um", "uh", "the end", "music", "applause", "silence",
})

_NON_WORDS = re.compile(r"[^\w']+", re.UNICODE)
_BRACKETED = re.compile(r"^\s*[\[(*].*[\])*]\s*$")


@dataclass
class Verdict:
    valid: bool
    reason: str = ""


def normalise(text: str) -> str:
    return _NON_WORDS.sub(" ", text.lower()).strip()


def validate_utterance(text: str, confidence: float, audio_seconds: float,
                       min_confidence: float = 0.0,
                       no_speech_prob: float = 0.0) -> Verdict:
    """Accept an utterance unless it is empty, a sound tag, or a likely hallucination.

    Short real answers ("yes", "okay", "bye") are valid however short the audio is and
    however unsure the model is of a single word (tiny models give ~0.4); a known
    hallucination phrase is rejected only when the model itself doubts there was speech
    (``no_speech_prob`` ≥ 0.5).
    """
    words = normalise(text)
    if not words:
        return Verdict(False, "no_speech")
    if _BRACKETED.match(text):
        return Verdict(False, "sound_tag")
    if confidence < min_confidence:
        return Verdict(False, "low_confidence")
    if words in HALLUCINATIONS and no_speech_prob >= 0.5:
        return Verdict(False, "hallucination")
    if audio_seconds <= 0:
        return Verdict(False, "no_audio")
    return Verdict(True)
