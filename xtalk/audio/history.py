"""A bounded history of the session's input audio, addressed by absolute sample index."""

from __future__ import annotations

from collections import deque

import numpy as np

CHUNK_S = 1.0


class AudioHistory:
    """Keeps the most recent ``max_seconds`` of 16 kHz input for slicing utterances.

    Positions are absolute sample indices of the session's input stream, so an utterance
    is ``slice(start, end)`` whatever the order in which events arrived. Audio older than
    the window, or given up with :meth:`forget_before`, is forgotten (in whole chunks of
    :data:`CHUNK_S`); asking for it returns only what is still kept. Memory follows what
    is kept, so a session that keeps a few seconds between utterances holds a few seconds.
    """

    def __init__(self, max_seconds: float = 40.0, sample_rate: int = 16000) -> None:
        self.capacity = int(max_seconds * sample_rate)
        self.sample_rate = sample_rate
        self.chunk = max(1, int(CHUNK_S * sample_rate))
        self._chunks: deque[np.ndarray] = deque()
        self._start = 0  # absolute index of the first sample of the first chunk
        self._end = 0  # absolute index one past the newest sample

    @property
    def end_sample(self) -> int:
        return self._end

    @property
    def start_sample(self) -> int:
        return self._start if self._chunks else self._end

    def append(self, start_sample: int, pcm: np.ndarray) -> None:
        """Store ``pcm`` at ``start_sample`` (gaps are filled with silence)."""
        if start_sample > self._end:
            self.append(self._end, np.zeros(start_sample - self._end, dtype=np.int16))
        elif start_sample < self._end:
            pcm = pcm[self._end - start_sample:]
        n = len(pcm)
        if n == 0:
            return
        if not self._chunks:
            self._start = self._end
        done = 0
        while done < n:
            used = (self._end - self._start) - self.chunk * (len(self._chunks) - 1)
            if not self._chunks or used >= self.chunk:
                self._chunks.append(np.empty(self.chunk, dtype=np.int16))
                used = 0
            take = min(n - done, self.chunk - used)
            self._chunks[-1][used:used + take] = pcm[done:done + take]
            done += take
            self._end += take
        self.forget_before(self._end - self.capacity)

    def forget_before(self, sample: int) -> None:
        """Let go of the chunks that end at or before ``sample``."""
        while len(self._chunks) > 1 and self._start + self.chunk <= sample:
            self._chunks.popleft()
            self._start += self.chunk

    def slice(self, start: int, end: int) -> np.ndarray:
        """Audio between absolute samples ``start`` and ``end`` (clamped to what is kept)."""
        start = max(start, self.start_sample)
        end = min(end, self._end)
        if end <= start:
            return np.zeros(0, dtype=np.int16)
        first, last = (start - self._start) // self.chunk, (end - 1 - self._start) // self.chunk
        offset = self._start + first * self.chunk
        if first == last:
            return self._chunks[first][start - offset:end - offset].copy()
        parts = [self._chunks[i] for i in range(first, last + 1)]
        return np.concatenate(parts)[start - offset:end - offset]
