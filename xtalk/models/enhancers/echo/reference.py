"""ReferenceTimeline: what the speaker played, on the microphone's clock."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from xtalk.models.enhancers.echo.constants import AUDIBLE, MAX_QUEUED, RATE


class ReferenceTimeline:
    """The reply audio on the monotonic clock, read back on the microphone's clock.

    Time is counted in 16 kHz samples of ``clock()``. A played block (``add_played``) is
    laid where the device says it sounds (``start``; :meth:`EchoGate.note_played` decides
    which blocks continue a stretch) or, untimed, from its report on, right after the block
    still playing when reported within ``jitter_s`` of its end, else as a new stretch. A
    sent chunk (``add_sent``) plays from now or after the chunks before it, like a player's
    queue; a pause moves what has not played yet aside until the resume.

    The microphone's sample ``k`` was captured at ``anchor + k / 16000``: the anchor is the
    earliest ``arrival - k / 16000`` of the last ``ANCHOR_WINDOW_S`` (a frame cannot arrive
    before it was captured). It must hold still, since every move untrains the echo filter:
    after the first window it moves only when that earliest arrival is more than
    ``ANCHOR_TOLERANCE_S`` away, earlier by at most ``CREEP`` and later by at most
    ``LATER_CREEP`` (clock drift; a busy loop delays frames without saying anything about
    their capture). A frame's reference is read ``lead_s`` before its capture time (default
    0). Why it is built this way, and what was tried before: docs/echo.md.
    """

    CREEP = 2e-4  # s per s: how fast the microphone's anchor may move earlier ...
    LATER_CREEP = 2e-5  # ... and later (20 ppm)
    ANCHOR_WINDOW_S = 4.0
    ANCHOR_TOLERANCE_S = 1e-3

    def __init__(self, clock: Callable[[], float], lead_s: float = 0.0,
                 jitter_s: float = 0.03) -> None:
        self.clock = clock
        self.lead = round(lead_s * RATE)
        self.jitter = round(jitter_s * RATE)
        self._segments: deque[tuple[int, np.ndarray]] = deque()
        self._played_end: int | None = None
        self._sent_end: int | None = None
        self._pending: list[np.ndarray] = []
        self._paused = False
        self._mic_samples = 0
        self._anchor: float | None = None
        self._moved = False  # the anchor jumped (see take_moved)
        self._arrivals: deque[tuple[int, float]] = deque()  # (end sample, arrival - end)
        self._audible_end: int | None = None  # where the last audible reference ends

    def _now(self) -> int:
        return round(self.clock() * RATE)

    def _mark(self, start: int, x: np.ndarray) -> None:
        if x.size and float(np.max(np.abs(x))) > AUDIBLE:
            end = start + x.size
            self._audible_end = end if self._audible_end is None else \
                max(self._audible_end, end)

    def audible_within(self, seconds: float) -> bool:
        """Whether audible reference audio plays now, or ended less than ``seconds``
        ago (the echo of the last block is still in the room)."""
        return self._audible_end is not None and \
            self._now() < self._audible_end + round(seconds * RATE)

    def add_played(self, x: np.ndarray, start: int | None = None) -> None:
        """A block that starts to sound at sample ``start`` (of ``clock() * RATE``; a
        device that tells when its output reaches the speaker), or, with ``None``,
        handed to the speaker now: it plays from now on, or right after the block
        before it when that one is still playing or ended less than ``jitter_s`` ago (a
        device plays blocks back to back; reports come late or in bursts)."""
        if start is None:
            now = self._now()
            start = now
            if self._played_end is not None and \
                    now - self.jitter <= self._played_end <= now + MAX_QUEUED:
                start = self._played_end
        self._played_end = start
        self.extend_played(x)

    def extend_played(self, x: np.ndarray) -> None:
        """More of the last played stretch (right after it, whatever the time)."""
        if x.size and self._played_end is not None:
            self._segments.append((self._played_end, x))
            self._mark(self._played_end, x)
            self._played_end += x.size

    def add_sent(self, x: np.ndarray) -> None:
        if self._paused:
            self._pending.append(x)
            return
        now = self._now()
        start = now if self._sent_end is None else max(now, self._sent_end)
        self._segments.append((start, x))
        self._sent_end = start + x.size
        self._mark(start, x)

    def _cut(self) -> list[np.ndarray]:
        """Remove what plays after now; returns it (oldest first)."""
        now = self._now()
        kept: deque[tuple[int, np.ndarray]] = deque()
        later: list[np.ndarray] = []
        for start, x in self._segments:
            if start + x.size <= now:
                kept.append((start, x))
            elif start >= now:
                later.append(x)
            else:
                kept.append((start, x[:now - start]))
                later.append(x[now - start:])
        self._segments = kept
        self._sent_end = None
        if self._audible_end is not None:
            self._audible_end = min(self._audible_end, now)
        return later

    def pause(self) -> None:
        if not self._paused:
            self._pending = self._cut() + self._pending
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            pending, self._pending = self._pending, []
            for x in pending:
                self.add_sent(x)

    def clear(self) -> None:
        self._cut()
        self._pending = []
        self._paused = False

    def take_moved(self) -> bool:
        """Whether the microphone's anchor jumped by more than a sample since the last
        call (while it settles, in the first ``ANCHOR_WINDOW_S`` of the stream): the
        reference then moved against the echo, a new echo path for a canceller."""
        moved, self._moved = self._moved, False
        return moved

    def read(self, n: int) -> np.ndarray:
        """The reference for the next ``n`` microphone samples (just received)."""
        arrival = self.clock()
        end = self._mic_samples + n
        candidate = arrival - end / RATE
        window = round(self.ANCHOR_WINDOW_S * RATE)
        self._arrivals.append((end, candidate))
        while self._arrivals[0][0] < end - window:
            self._arrivals.popleft()
        earliest = min(c for _, c in self._arrivals)
        previous = self._anchor
        if self._anchor is None or end < window:
            self._anchor = earliest  # settling: the earliest arrival so far
        elif abs(earliest - self._anchor) > self.ANCHOR_TOLERANCE_S:
            seconds = n / RATE
            self._anchor += float(np.clip(earliest - self._anchor, -self.CREEP * seconds,
                                          self.LATER_CREEP * seconds))
        if previous is not None and abs(self._anchor - previous) * RATE > 1.0:
            self._moved = True
        a = round(self._anchor * RATE) + self._mic_samples - self.lead
        b = a + n
        self._mic_samples = end
        out = np.zeros(n, dtype=np.float32)
        for start, x in self._segments:
            lo, hi = max(a, start), min(b, start + x.size)
            if lo < hi:
                out[lo - a:hi - a] = x[lo - start:hi - start]
        while self._segments and self._segments[0][0] + self._segments[0][1].size <= a:
            self._segments.popleft()
        return out
