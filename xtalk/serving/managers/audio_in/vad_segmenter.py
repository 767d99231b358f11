"""Turn frame-wise speech probabilities into speech start / end decisions (pure logic)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from xtalk.serving.session_settings import VADSettings


@dataclass
class SegmentEvent:
    """``start``/``end`` of a speech segment, ``pause``/``resume`` inside one (silence
    began / speech came back before ``min_silence_s``), or, outside a segment, ``onset``
    (the first speech frame, before ``min_speech_s`` confirmed it) and ``dismissed``
    (that run of speech frames ended too short to start a segment)."""

    kind: str
    sample: int


class SpeechSegmenter:
    """Hysteresis state machine over frames at known sample positions."""

    def __init__(self, settings: VADSettings, sample_rate: int = 16000) -> None:
        self.settings = settings
        self.sample_rate = sample_rate
        self.in_speech = False
        self._speech_run_start: int | None = None
        self._silence_start: int | None = None
        self._dismissed_onset: int | None = None
        self._recent: deque[tuple[int, float]] = deque()  # (frame start, p) outside speech

    @property
    def pause_sample(self) -> int | None:
        """Where the silence began, while a segment is in a pause."""
        return self._silence_start if self.in_speech else None

    def process(self, start_sample: int, n_samples: int, probability: float
                ) -> SegmentEvent | None:
        """Feed one frame; returns a start/end event when one is decided."""
        s = self.settings
        end_sample = start_sample + n_samples
        if not self.in_speech:
            self._remember(start_sample, probability)
            if probability >= s.threshold:
                first = self._speech_run_start is None
                if first:
                    self._speech_run_start = start_sample
                if end_sample - self._speech_run_start >= s.min_speech_s * self.sample_rate:
                    self.in_speech = True
                    self._silence_start = None
                    return SegmentEvent("start", self._segment_begin(self._speech_run_start))
                return SegmentEvent("onset", start_sample) if first else None
            if self._speech_run_start is not None:
                earlier = self._dismissed_onset
                if earlier is None or self._speech_run_start - earlier > \
                        s.onset_memory_s * self.sample_rate:
                    self._dismissed_onset = self._speech_run_start  # the first of a chain
                self._speech_run_start = None
                return SegmentEvent("dismissed", start_sample)
            return None
        if probability < s.silence_threshold:
            paused = self._silence_start is None
            if paused:
                self._silence_start = start_sample
            if end_sample - self._silence_start >= s.min_silence_s * self.sample_rate:
                self.in_speech = False
                self._speech_run_start = None
                ended_at, self._silence_start = self._silence_start, None
                return SegmentEvent("end", ended_at)
            return SegmentEvent("pause", start_sample) if paused else None
        if self._silence_start is not None:
            self._silence_start = None
            return SegmentEvent("resume", start_sample)
        return None

    def _remember(self, start_sample: int, probability: float) -> None:
        s = self.settings
        self._recent.append((start_sample, probability))
        horizon = start_sample - int((s.lead_in_max_s + s.lead_in_gap_s) * self.sample_rate)
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def _segment_begin(self, run_start: int) -> int:
        """Where a segment whose speech frames began at ``run_start`` starts: its
        pre-roll, reaching back over a soft lead-in and a recently dismissed onset."""
        s, rate = self.settings, self.sample_rate
        begins = [run_start - int(s.pre_roll_s * rate)]
        dismissed, self._dismissed_onset = self._dismissed_onset, None
        if dismissed is not None and run_start - dismissed <= s.onset_memory_s * rate:
            begins.append(dismissed - int(max(s.pre_roll_s, s.onset_pre_roll_s) * rate))
        earliest, gap_from = run_start, run_start
        for frame, probability in reversed(self._recent):
            if frame >= run_start:
                continue
            if run_start - frame > s.lead_in_max_s * rate:
                break
            if probability >= s.lead_in_threshold:
                earliest, gap_from = frame, frame
            elif gap_from - frame > s.lead_in_gap_s * rate:
                break
        if earliest < run_start:
            begins.append(earliest - int(s.pre_roll_s * rate))
        self._recent.clear()
        return max(0, min(begins))

    def force_end(self, sample: int) -> SegmentEvent | None:
        """End an ongoing speech segment now (e.g. the client muted); a pending onset is
        dismissed."""
        if not self.in_speech:
            if self._speech_run_start is None:
                return None
            self._speech_run_start = None
            return SegmentEvent("dismissed", sample)
        self.in_speech = False
        self._speech_run_start = None
        self._silence_start = None
        return SegmentEvent("end", sample)
