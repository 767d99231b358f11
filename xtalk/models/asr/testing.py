"""Tone-code ASR: a **test/demo** recogniser, never a default model.

It "recognises" audio produced by :class:`~xtalk.models.tts.testing.ToneCodeTTS` (see
:mod:`xtalk.models.tone_code`) exactly and deterministically, so pipelines can be tested end
to end without a neural network. Real speech decodes to nothing.
"""

from __future__ import annotations

import numpy as np

from xtalk.models import tone_code
from xtalk.models.interfaces import ASR, Transcription


class ToneCodeASR(ASR):
    """Decodes tone-coded 16 kHz PCM16 audio into text (test/demo model).

    Stateless: :meth:`clone` returns the same object.

    Args:
        min_confidence: Results whose confidence (fraction of clean tone symbols) is below
            this are returned with empty text.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.min_confidence = min_confidence

    def transcribe(self, audio: np.ndarray) -> Transcription:
        """Decode a whole utterance (phrases separated by pauses are each decoded).

        Args:
            audio: PCM16 mono samples at 16 kHz.

        Returns:
            The decoded text and its confidence.
        """
        text, confidence = tone_code.decode_phrases(audio, self.sample_rate)
        if confidence < self.min_confidence:
            text = ""
        return Transcription(text=text, confidence=confidence)


__all__ = ["ToneCodeASR"]
