"""A bounded history of the session's input audio, addressed by absolute sample index."""

from __future__ import annotations

from collections import deque

import numpy as np


class AudioHistory:
    """Keeps the most recent ``max_seconds`` of 16 kHz input for slicing utterances.

    Positions are absolute sample indices of the session's input stream, so an utterance
    is ``slice(start, end)`` whatever the order in which events arrived. Audio older than
    the window, or given up with :meth:`forget_before`, is forgotten; asking for it
    returns only what is still kept. Memory follows what is kept (blocks as they came),
    so a session that keeps a few seconds between utterances holds a few seconds.
    """

    def __init__(self, max_seconds: float = 40.0, sample_rate: int = 16000) -> None:
        self.capacity = int(max_seconds * sample_rate)
        self.sample_rate = sample_rate
        self._blocks: deque[np.ndarray] = deque()
        self._start = 0  # absolute index of the oldest kept sample
        self._end = 0  # absolute index one past the newest sample

    @property
    def end_sample(self) -> int:
        return self._end

    @property
    def start_sample(self) -> int:
        return self._start

    def append(self, start_sample: int, pcm: np.ndarray) -> None:
        """Store ``pcm`` at ``start_sample`` (gaps are filled with silence)."""
        if start_sample > self._end:
            self.append(self._end, np.zeros(start_sample - self._end, dtype=np.int16))
        elif start_sample < self._end:
            pcm = pcm[self._end - start_sample:]
        n = len(pcm)
        if n == 0:
            return
        if not self._blocks:
            self._start = self._end
        self._blocks.append(np.array(pcm, dtype=np.int16))  # a copy: callers reuse arrays
        self._end += n
        self.forget_before(self._end - self.capacity)

    def forget_before(self, sample: int) -> None:
        """Let go of the blocks that end at or before ``sample``."""
        while self._blocks and self._start + len(self._blocks[0]) <= sample:
            self._start += len(self._blocks.popleft())

    def slice(self, start: int, end: int) -> np.ndarray:
        """Audio between absolute samples ``start`` and ``end`` (clamped to what is kept)."""
        start = max(start, self._start)
        end = min(end, self._end)
        if end <= start:
            return np.zeros(0, dtype=np.int16)
        parts = []
        position = self._start
        for block in self._blocks:
            block_end = position + len(block)
            if block_end > start:
                parts.append(block[max(0, start - position):min(len(block), end - position)])
            position = block_end
            if position >= end:
                break
        return np.concatenate(parts)
