"""A bounded history of the session's input audio, addressed by absolute sample index."""

from __future__ import annotations

import numpy as np


class AudioHistory:
    """Keeps the most recent ``max_seconds`` of 16 kHz input for slicing utterances.

    Positions are absolute sample indices of the session's input stream, so an utterance
    is ``slice(start, end)`` whatever the order in which events arrived. Audio older than
    the window is forgotten; asking for it returns only what is still kept.
    """

    def __init__(self, max_seconds: float = 40.0, sample_rate: int = 16000) -> None:
        self.capacity = int(max_seconds * sample_rate)
        self.sample_rate = sample_rate
        self._buffer = np.zeros(self.capacity, dtype=np.int16)
        self._end = 0  # absolute index one past the newest sample

    @property
    def end_sample(self) -> int:
        return self._end

    @property
    def start_sample(self) -> int:
        return max(0, self._end - self.capacity)

    def append(self, start_sample: int, pcm: np.ndarray) -> None:
        """Store ``pcm`` at ``start_sample`` (gaps are filled with silence)."""
        if start_sample > self._end:
            self.append(self._end, np.zeros(start_sample - self._end, dtype=np.int16))
        elif start_sample < self._end:
            pcm = pcm[self._end - start_sample:]
        n = len(pcm)
        if n == 0:
            return
        if n >= self.capacity:
            self._buffer[:] = pcm[-self.capacity:]
            self._end += n
            return
        pos = self._end % self.capacity
        first = min(n, self.capacity - pos)
        self._buffer[pos:pos + first] = pcm[:first]
        self._buffer[:n - first] = pcm[first:]
        self._end += n

    def slice(self, start: int, end: int) -> np.ndarray:
        """Audio between absolute samples ``start`` and ``end`` (clamped to what is kept)."""
        start = max(start, self.start_sample)
        end = min(end, self._end)
        if end <= start:
            return np.zeros(0, dtype=np.int16)
        idx = np.arange(start, end) % self.capacity
        return self._buffer[idx].copy()
