"""Comfort noise: the room's background where the echo canceller left digital silence.

AEC3 removes everything from a block it takes for echo, the room's own noise included,
so during a reply the gate's output is mostly exact zeros. The Silero VAD judges speech
against what came before it: a voice that starts out of digital silence scores low for
hundreds of milliseconds (one of the shared recordings, "ask not ...", scored under 0.5
for 0.7 s after zeros and after -70 dBFS of noise, and passed at 96 ms after -50 dBFS),
so the user who talks over the reply was heard late. :class:`ComfortNoise` keeps the
background: it follows the level of the room as the linear echo filter leaves it (the
microphone minus the predicted echo: noise plus some echo residue; the quietest 10 ms of
the last 0.25 s, so the residue's peaks do not count) and tops each output block up to
that level with white noise, as telephone echo cancellers do.
"""

from __future__ import annotations

from collections import deque

import numpy as np

WINDOW_BLOCKS = 25  # 10 ms blocks: the background is the quietest of the last 0.25 s
MAX_LEVEL = (10 ** (-35 / 20)) ** 2  # mean square (full scale 1.0): never louder
FULL_SCALE = 32768.0


class ComfortNoise:
    """Tracks the background level and fills quieter output blocks up to it."""

    def __init__(self, seed: int = 0) -> None:
        self._levels: deque[float] = deque(maxlen=WINDOW_BLOCKS)
        self._rng = np.random.default_rng(seed)

    def clear(self) -> None:
        self._levels.clear()

    @property
    def level(self) -> float:
        """The background's mean square (full scale 1.0; 0 while unknown)."""
        return min(min(self._levels), MAX_LEVEL) if self._levels else 0.0

    def observe(self, background: np.ndarray) -> None:
        """A 10 ms block of the room without the reply (float, full scale 1.0)."""
        self._levels.append(float(np.mean(np.square(background))))

    def fill(self, block: np.ndarray) -> np.ndarray:
        """``block`` (PCM16) topped up with noise to the background level."""
        missing = self.level - float(np.mean(np.square(block / FULL_SCALE)))
        if missing <= 0:
            return block
        noise = self._rng.normal(0.0, np.sqrt(missing) * FULL_SCALE, block.size)
        return np.clip(block + noise, -32768, 32767).astype(np.int16)
