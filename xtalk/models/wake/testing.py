"""Tone wake word: a **test/demo** wake-word detector, never a default model.

The "wake phrase" is a pure tone (default 3 kHz, above every tone-code symbol) lasting at
least ``min_s``; it is detected in the first frame after the tone, as a real detector
fires at the end of the phrase. Deterministic tests open the wake gate with it.
"""

from __future__ import annotations

import numpy as np

from xtalk.models.interfaces import WakeWordDetector

RATE = 16000


class ToneWakeWord(WakeWordDetector):
    """Scores 1.0 in the frame after ``frequency_hz`` dominated the input for ``min_s``.

    Args:
        frequency_hz: The tone that stands for the wake phrase.
        min_s: How long it must last.
        phrase: What the tone stands for (shown to users).
    """

    threshold = 0.5

    def __init__(self, frequency_hz: float = 3000.0, min_s: float = 0.2,
                 phrase: str = "Hey Tone") -> None:
        self.frequency_hz = float(frequency_hz)
        self.min_samples = int(min_s * RATE)
        self.phrase = phrase
        self._run = 0

    def clone(self) -> ToneWakeWord:
        return ToneWakeWord(self.frequency_hz, self.min_samples / RATE, self.phrase)

    def process(self, frame: np.ndarray) -> float:
        x = frame.astype(np.float64)
        if x.size == 0:
            return 0.0
        t = np.arange(x.size) / RATE
        tone = np.abs(np.dot(x, np.exp(-2j * np.pi * self.frequency_hz * t))) ** 2
        energy = float(np.dot(x, x)) * x.size / 2
        dominant = energy > 0 and tone / energy > 0.5 and np.sqrt(np.mean(x * x)) > 300
        if dominant:
            self._run += x.size
            return 0.0
        ended, self._run = self._run >= self.min_samples, 0
        return 1.0 if ended else 0.0

    def reset(self) -> None:
        self._run = 0


__all__ = ["ToneWakeWord"]
