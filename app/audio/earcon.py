"""Short sounds the app plays itself (not the assistant's voice)."""

from __future__ import annotations

import numpy as np

WAKE_NOTES_HZ = (880.0, 1318.5)  # A5 then E6: "I'm listening"
NOTE_S = 0.07
LEVEL_DBFS = -20.0
FADE_S = 0.008


def wake_earcon(sample_rate: int) -> np.ndarray:
    """Two rising notes (~150 ms, PCM16 mono at ``sample_rate``): the wake phrase was
    heard."""
    n = round(NOTE_S * sample_rate)
    t = np.arange(n) / sample_rate
    fade = np.ones(n)
    k = max(1, round(FADE_S * sample_rate))
    fade[:k] = np.sin(np.linspace(0, np.pi / 2, k)) ** 2
    fade[-k:] = fade[:k][::-1]
    gap = np.zeros(round(0.01 * sample_rate))
    notes = [np.sin(2 * np.pi * f * t) * fade for f in WAKE_NOTES_HZ]
    audio = np.concatenate([notes[0], gap, notes[1]]) * 10 ** (LEVEL_DBFS / 20)
    return np.round(audio * 32767).astype(np.int16)


__all__ = ["wake_earcon"]
